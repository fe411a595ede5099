"""The surveys waiting for an answer by portal (/metrics' `surveys_waiting`, `portal list`) are
counted by triggers on `survey` (migration 0021), not at each read: the count stays that of
the surveys themselves through a survey's whole life (opened, invited, answered, defaulted,
purged, moved, deleted, cancelled with its portal), folded or not, and the upgrade counts the
surveys already waiting."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Engine
from sqlmodel import col

from bridge.rules import workflow
from storage import portals, purge
from storage.db import reading, transaction
from storage.migrate import alembic_config
from storage.portals import AWAITING, SPAN
from storage.reading import waiting
from storage.survey import surveys
from storage.survey.surveys import new_survey
from storage.tables import Survey, SurveyState

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
PORTALS = [0, 1, 2]


def _open(engine: Engine, issues: range, **values: object) -> list[int]:
    rows = [
        new_survey(
            token=f"w{n}",
            issue_id=n,
            current_issue_id=n,
            state=SurveyState.INVITING,
            language="ru",
            created_at=NOW,
            updated_at=NOW,
            **values,
        )
        for n in issues
    ]
    with transaction(engine) as session:
        return list(surveys.open_surveys(session, rows).values())


def _counted(engine: Engine) -> dict[int, int]:
    """The kept counts, read as /metrics reads them, before and after a fold; checked against
    the surveys themselves."""
    with reading(engine) as session:
        kept = portals.waiting_per_portal(session, numbers=PORTALS)
        truth = {
            n: int(
                session.execute(
                    select(func.count()).where(AWAITING, col(Survey.portal) == n)
                ).scalar_one()
            )
            for n in PORTALS
        }
    with transaction(engine) as session:
        waiting.fold(session)
    with reading(engine) as session:
        assert portals.waiting_per_portal(session, numbers=PORTALS) == kept
        rows = session.execute(select(func.count()).select_from(waiting.SurveyWaiting))
        assert rows.scalar_one() == len([n for n in kept.values() if n])  # one per portal
    assert kept == truth
    return {n: count for n, count in kept.items() if count}


def _apply(engine: Engine, change: workflow.Change) -> None:
    with transaction(engine) as session:
        assert surveys.apply_change(session, change, now=NOW)


def _invited(engine: Engine, survey_id: int, portal: int) -> None:
    user = portal * SPAN + 27
    _apply(engine, workflow.invited(survey_id, user_id=user, message_id=survey_id, shown=None))


def test_the_count_follows_each_survey_through_its_life(engine: Engine) -> None:
    answered, defaulted, moved, deleted, cancelled = _open(engine, range(1, 6))
    assert _counted(engine) == {}  # inviting: nobody is asked yet
    for survey_id in (answered, defaulted, deleted, cancelled):
        _invited(engine, survey_id, portal=1)
    _invited(engine, moved, portal=0)
    # A test invitation is opened with its person known, and counts in their portal.
    (test_invitation,) = _open(engine, range(9, 10), is_test=True, bitrix_user_id=2 * SPAN + 5)
    assert _counted(engine) == {0: 1, 1: 4}
    _invited(engine, test_invitation, portal=2)
    assert _counted(engine) == {0: 1, 1: 4, 2: 1}
    _apply(engine, workflow.answered(answered, score=5, user_id=1, reply_text=None, now=NOW))
    _apply(engine, workflow.timed_out(defaulted, default_rating=5, now=NOW))
    assert _counted(engine) == {0: 1, 1: 2, 2: 1}
    with transaction(engine) as session:
        # The rating reached Okdesk; the purge forgets the person (their portal stays).
        session.execute(update(Survey).where(col(Survey.id) == answered).values(finished_at=NOW))
        assert purge.purge_personal_data(session, finished_before=NOW + timedelta(days=1)) == 1
        # A waiting survey moved to another portal, another one deleted.
        session.execute(update(Survey).where(col(Survey.id) == moved).values(portal=2))
        session.execute(delete(Survey).where(col(Survey.id) == deleted))
    assert _counted(engine) == {1: 1, 2: 2}
    # The portal removed (`bridge.portals.connect.remove`): its waiting surveys are cancelled.
    with transaction(engine) as session:
        for survey_id in portals.waiting_survey_ids(session, number=1):
            withdrawn = workflow.withdrawn(survey_id, now=NOW, reason="portal removed")
            assert surveys.apply_change(session, replace(withdrawn, jobs=()), now=NOW)
        portals.set_state(session, number=1, state=portals.PortalState.REMOVED, now=NOW)
    assert _counted(engine) == {2: 2}
    with reading(engine) as session:
        survey = session.get(Survey, cancelled)
        assert survey is not None and survey.state == SurveyState.CANCELLED


def test_the_upgrade_counts_the_surveys_already_waiting(engine: Engine, database_url: str) -> None:
    first = _open(engine, range(1, 4))
    second = _open(engine, range(4, 6))
    engine.dispose()
    config = alembic_config(database_url)
    command.downgrade(config, "0020")
    with transaction(engine) as session:
        for ids, portal in ((first, 0), (second, 1)):
            session.execute(
                update(Survey)
                .where(col(Survey.id).in_(ids))
                .values(state=SurveyState.AWAITING, portal=portal)
            )
    engine.dispose()
    command.upgrade(config, "head")
    assert _counted(engine) == {0: 3, 1: 2}
    (third,) = _open(engine, range(6, 7))
    _invited(engine, third, portal=1)
    assert _counted(engine) == {0: 3, 1: 3}
