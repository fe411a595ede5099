"""Each survey knows the portal its person was asked in, for the report's portal filter: the
upgrade fills it from the person's id or, once the purge forgot that, from the message's id,
without touching the per-day counts; from then on it is set with the person's id."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import col

from bridge.rules import workflow
from bridge.rules.workflow import ANY
from storage.db import reading, transaction
from storage.migrate import alembic_config
from storage.portals import SPAN
from storage.survey import surveys
from storage.tables import Survey, SurveyDay, SurveyState

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _survey(n: int, *, user: int | None, message: int | None) -> Survey:
    return Survey(
        token=f"portal{n}",
        issue_id=n,
        current_issue_id=n,
        state=SurveyState.RATED if message else SurveyState.UNDELIVERABLE,
        language="ru",
        bitrix_user_id=user,
        message_id=message,
        score=5 if message else None,
        created_at=NOW,
        updated_at=NOW,
    )


def _portals(engine: Engine) -> dict[int, int | None]:
    with reading(engine) as session:
        rows = session.execute(select(col(Survey.issue_id), col(Survey.portal))).all()
    return {int(issue): portal for issue, portal in rows}


def _counted(engine: Engine) -> int:
    with reading(engine) as session:
        return int(session.execute(select(func.count()).select_from(SurveyDay)).scalar() or 0)


def test_the_upgrade_fills_each_survey_s_portal_from_its_ids(
    engine: Engine, database_url: str
) -> None:
    with transaction(engine) as session:
        session.add(_survey(1, user=27, message=99))  # the settings' portal, number 0
        session.add(_survey(2, user=SPAN + 27, message=SPAN + 99))
        session.add(_survey(3, user=None, message=2 * SPAN + 5))  # purged: its message stays
        session.add(_survey(4, user=None, message=None))  # no one found to ask
    counted = _counted(engine)
    engine.dispose()
    config = alembic_config(database_url)
    command.downgrade(config, "0018")
    command.upgrade(config, "head")
    assert _portals(engine) == {1: 0, 2: 1, 3: 2, 4: None}
    assert _counted(engine) == counted


def test_the_person_found_to_ask_brings_their_portal(engine: Engine) -> None:
    with transaction(engine) as session:
        session.add(_survey(5, user=None, message=None))
        session.add(_survey(6, user=None, message=None))
    with transaction(engine) as session:
        first, second = session.execute(select(col(Survey.id)).order_by(col(Survey.id))).scalars()
        surveys.set_recipients(session, recipients={first: 3 * SPAN + 27})
        # An invitation sent records the person it went to (workflow.invited).
        sent = workflow.invited(second, user_id=2 * SPAN + 27, message_id=2 * SPAN + 9, shown=None)
        surveys.apply_change(session, replace(sent, from_states=ANY), now=NOW)
    assert _portals(engine) == {5: 3, 6: 2}
