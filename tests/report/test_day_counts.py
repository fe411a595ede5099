"""The report's per-day counts give the figures a direct count of the surveys gives, after any
history of writes: surveys opened (test invitations too), invited, rated, defaulted, changed,
moved to another engineer, purged, deleted; folded or not; built by the migration for a
database that already held surveys."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import delete, func, insert, inspect, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bridge.report import figures
from bridge.worker import housekeeping
from harness.vendors import make_settings
from storage.db import create_db_engine, reading, transaction
from storage.migrate import alembic_config, upgrade
from storage.purge import purge_personal_data
from storage.reading import daily
from storage.reading import report as direct
from storage.reading.report import Cell
from storage.tables import Survey, SurveyDay, SurveyState
from tests.databases import private_postgres

FIRST = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 12
ENGINEERS = ["Иван", "Anna", None]
GROUPS = ["Первая линия", "Вторая линия", None]


def _new(rng: random.Random, n: int) -> Survey:
    created = FIRST + timedelta(seconds=rng.randrange(DAYS * 86_400))
    rated = rng.random() < 0.6
    return Survey(
        token=f"t{n}",
        issue_id=n,
        current_issue_id=n,
        state=SurveyState.RATED if rated else rng.choice(list(SurveyState)),
        language="ru",
        engineer=rng.choice(ENGINEERS),
        engineer_group=rng.choice(GROUPS),
        message_id=rng.choice([None, n]),
        score=rng.randint(1, 5) if rated else None,
        automatic=rated and rng.random() < 0.2,
        is_test=rng.random() < 0.05,
        created_at=created,
        updated_at=created,
    )


def _change(rng: random.Random) -> dict[str, Any]:
    """What one write does to a survey: every field the counts are kept by, and others."""
    choices: list[dict[str, Any]] = [
        {"message_id": rng.randrange(1, 10_000)},
        {"message_id": None},
        {"score": rng.randint(1, 5), "automatic": False, "state": SurveyState.RATED},
        {"score": 5, "automatic": True, "state": SurveyState.DEFAULTED},
        {"score": None},
        {"engineer": rng.choice(ENGINEERS)},
        {"engineer_group": rng.choice(GROUPS)},
        {"is_test": rng.random() < 0.5},
        {"created_at": FIRST + timedelta(seconds=rng.randrange(DAYS * 86_400))},
        {"reply_text": "спасибо"},  # counted nowhere: moves nothing
    ]
    return rng.choice(choices)


def _history(engine: Engine, rng: random.Random, surveys: int, writes: int) -> None:
    """Surveys written in a few transactions, then writes of every kind, some folded."""
    with transaction(engine) as session:
        session.add_all([_new(rng, n) for n in range(1, surveys + 1)])
    for step in range(writes):
        with transaction(engine) as session:
            target = rng.randint(1, surveys)
            if step % 17 == 16:
                session.execute(delete(Survey).where(col(Survey.id) == target))
            else:
                values = _change(rng)
                session.execute(update(Survey).where(col(Survey.id) == target).values(**values))
            if step % 11 == 10:
                daily.fold(session)


def _periods(rng: random.Random) -> Iterator[tuple[datetime, datetime]]:
    yield FIRST - timedelta(days=3), FIRST + timedelta(days=DAYS + 3)
    for _ in range(6):
        first = rng.randrange(-1, DAYS)
        yield (
            FIRST + timedelta(days=first),
            FIRST + timedelta(days=first + rng.randint(1, DAYS)),
        )


def _ordered(cells: list[Cell]) -> list[Cell]:
    return sorted(cells, key=lambda c: (str(c.engineer), str(c.group), c.score or 0, c.automatic))


def _assert_the_same_figures(engine: Engine, rng: random.Random) -> None:
    with reading(engine) as session:
        for start, end in _periods(rng):
            for engineer, group in [(None, None), ("Иван", None), (None, "Вторая линия")]:
                where = direct.matching(engineer=engineer, group=group)
                counted = daily.cells(session, start=start, end=end, engineer=engineer, group=group)
                counted_days = daily.days(
                    session, start=start, end=end, engineer=engineer, group=group
                )
                cells = direct.cells(session, start=start, end=end, where=where)
                weeks = direct.weeks(session, start=start, end=end, where=where)
                assert _ordered(counted) == _ordered(cells)
                assert direct.totals(counted) == direct.totals(cells)
                for by in ("engineer", "group"):
                    assert direct.teams(counted, by=by) == direct.teams(cells, by=by)
                first, last = start.date(), end.date() - timedelta(days=1)
                assert figures.weeks(counted_days, first, last) == figures.weeks(weeks, first, last)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_counts_give_the_figures_of_a_direct_count_after_any_history(
    engine: Engine, seed: int
) -> None:
    rng = random.Random(seed)
    _history(engine, rng, surveys=120, writes=150)
    _assert_the_same_figures(engine, rng)
    with transaction(engine) as session:
        daily.fold(session)
        daily.fold(session)
    _assert_the_same_figures(engine, rng)


def _rows(engine: Engine) -> tuple[int, int]:
    with reading(engine) as session:
        total, unfolded = session.execute(
            select(func.count(), func.count().filter(col(SurveyDay.folded).is_(False)))
        ).one()
    return int(total), int(unfolded)


def test_a_fold_leaves_one_row_per_day_and_key_and_none_for_keys_all_surveys_left(
    engine: Engine,
) -> None:
    rng = random.Random(7)
    with transaction(engine) as session:
        session.add_all([_new(rng, n) for n in range(1, 41)])
    with transaction(engine) as session:
        survey = session.get(Survey, 1)
        assert survey is not None
        was: dict[str, Any] = {"engineer": survey.engineer, "created_at": survey.created_at}
        session.execute(
            update(Survey).where(col(Survey.id) == 1).values(engineer="Кто-то один", is_test=False)
        )
    assert _rows(engine)[1] > 0
    with transaction(engine) as session:
        daily.fold(session)
    with reading(engine) as session:
        keys = session.execute(
            select(
                col(SurveyDay.day),
                col(SurveyDay.engineer),
                col(SurveyDay.engineer_group),
                col(SurveyDay.score),
                col(SurveyDay.automatic),
            )
        ).all()
    assert _rows(engine) == (len(keys), 0)
    assert len(set(keys)) == len(keys)
    # Moved back: nothing of «Кто-то один» is left after the next fold.
    with transaction(engine) as session:
        session.execute(update(Survey).where(col(Survey.id) == 1).values(**was))
        daily.fold(session)
    with reading(engine) as session:
        alone = select(func.count()).where(col(SurveyDay.engineer) == "Кто-то один")
        assert session.execute(alone).scalar_one() == 0


def test_the_purge_moves_the_ratings_of_purged_surveys_to_no_engineer(engine: Engine) -> None:
    rng = random.Random(5)
    with transaction(engine) as session:
        rows = [_new(rng, n) for n in range(1, 61)]
        for survey in rows:  # done for good: a failed survey keeps its data for a retry
            survey.finished_at = survey.created_at
            survey.state = SurveyState.RATED if survey.score else SurveyState.CANCELLED
        session.add_all(rows)
    with transaction(engine) as session:
        assert purge_personal_data(session, finished_before=FIRST + timedelta(days=6)) > 0
    _assert_the_same_figures(engine, rng)
    with reading(engine) as session:
        purged = daily.cells(session, start=FIRST, end=FIRST + timedelta(days=5))
    assert {c.engineer for c in purged} == {None}


def test_a_period_of_the_counts_starts_and_ends_at_midnight(engine: Engine) -> None:
    with reading(engine) as session, pytest.raises(ValueError, match="midnight"):
        daily.cells(session, start=FIRST + timedelta(hours=1), end=FIRST + timedelta(days=1))


@pytest.fixture(params=["sqlite", "postgresql"])
def before_the_counts(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database at the schema before the per-day counts (revision 0013)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
        command.upgrade(alembic_config(url), "0013")
        yield url
        return
    with private_postgres("counts") as url:
        command.downgrade(alembic_config(url), "0013")
        yield url


def test_the_migration_counts_the_surveys_an_existing_database_holds(
    before_the_counts: str,
) -> None:
    rng = random.Random(11)
    engine = create_db_engine(before_the_counts, pool_size=1)
    try:
        # Only the columns the table had then (a later revision may add others).
        had = {c["name"] for c in inspect(engine).get_columns("survey")} - {"id"}
        made = [_new(rng, n) for n in range(1, 151)]
        rows = [{name: getattr(survey, name) for name in had} for survey in made]
        with Session(engine) as session, session.begin():
            session.execute(insert(Survey.__table__), rows)  # type: ignore[attr-defined]
        upgrade(before_the_counts)
        _assert_the_same_figures(engine, rng)
        # And from then on the triggers keep them.
        with transaction(engine) as session:
            target = rng.randint(1, 150)
            session.execute(update(Survey).where(col(Survey.id) == target).values(score=1))
        _assert_the_same_figures(engine, rng)
    finally:
        engine.dispose()


def test_days_are_utc_days_of_the_closure(engine: Engine) -> None:
    late = datetime(2026, 3, 1, 23, 59, 59, 999_999, tzinfo=UTC)
    with transaction(engine) as session:
        session.add(_fixed(1, late))
        session.add(_fixed(2, late + timedelta(microseconds=1)))
    with reading(engine) as session:
        rows = session.execute(
            select(col(SurveyDay.day), col(SurveyDay.surveys)).order_by(col(SurveyDay.day))
        ).all()
    assert [(day, surveys) for day, surveys in rows] == [
        (date(2026, 3, 1), 1),
        (date(2026, 3, 2), 1),
    ]


def _fixed(n: int, created: datetime) -> Survey:
    return Survey(
        token=f"f{n}",
        issue_id=n,
        state=SurveyState.AWAITING,
        language="ru",
        created_at=created,
        updated_at=created,
    )


def test_a_worker_pass_folds_the_counts(database_url: str, engine: Engine) -> None:
    rng = random.Random(3)
    _history(engine, rng, surveys=30, writes=10)
    assert _rows(engine)[1] > 0
    chores = housekeeping.Chores(engine, make_settings(database_url))
    chores.run(FIRST + timedelta(days=DAYS))
    total, unfolded = _rows(engine)
    assert unfolded == 0 and total > 0
    _assert_the_same_figures(engine, rng)
