"""Group commit of closure webhooks: requests arriving together share one transaction, each is
answered only once its rows are committed, and one bad item never fails the others."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from unittest.mock import ANY

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from bridge.rules.decisions import ClosureDecision
from bridge.survey import closures
from bridge.web.grouped import GroupCommit
from harness.vendors import make_settings
from storage.db import transaction
from storage.queue import pending_by_kind
from storage.survey.surveys import current_survey, new_survey, open_surveys
from storage.tables import JobKind, Survey, SurveyState, utcnow

pytestmark = pytest.mark.anyio


class Writes:
    """A write function that records its batches; the first one waits until released."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.first_started = threading.Event()
        self.release = threading.Event()

    def __call__(self, items: Sequence[str]) -> list[str]:
        if not self.batches:
            self.first_started.set()
            assert self.release.wait(10)
        self.batches.append(list(items))
        if "bad" in items:
            raise ValueError("a bad item")
        return [item.upper() for item in items]


async def _started(writes: Writes) -> None:
    assert await asyncio.to_thread(writes.first_started.wait, 10)


async def test_requests_that_arrive_during_a_write_share_the_next() -> None:
    writes = Writes()
    group: GroupCommit[str, str] = GroupCommit(writes)
    first = asyncio.create_task(group.submit("a"))
    await _started(writes)
    others = [asyncio.create_task(group.submit(name)) for name in ("b", "c", "d")]
    await asyncio.sleep(0.01)
    assert not any(task.done() for task in [first, *others])  # nobody answered before commit
    writes.release.set()
    assert await asyncio.gather(first, *others) == ["A", "B", "C", "D"]
    assert writes.batches == [["a"], ["b", "c", "d"]]


async def test_a_failing_batch_is_written_again_item_by_item() -> None:
    writes = Writes()
    group: GroupCommit[str, str] = GroupCommit(writes)
    first = asyncio.create_task(group.submit("a"))
    await _started(writes)
    others = [asyncio.create_task(group.submit(name)) for name in ("b", "bad", "c")]
    await asyncio.sleep(0.01)
    writes.release.set()
    results = await asyncio.gather(first, *others, return_exceptions=True)
    assert results[:2] == ["A", "B"] and results[3] == "C"
    assert isinstance(results[2], ValueError)
    assert writes.batches == [["a"], ["b", "bad", "c"], ["b"], ["bad"], ["c"]]


async def test_a_request_that_goes_away_leaves_its_row_written() -> None:
    writes = Writes()
    group: GroupCommit[str, str] = GroupCommit(writes)
    first = asyncio.create_task(group.submit("a"))
    await _started(writes)
    first.cancel()
    writes.release.set()
    later = await group.submit("b")
    assert later == "B" and writes.batches == [["a"], ["b"]]


def test_one_transaction_decides_each_change_as_if_alone(engine: Engine, database_url: str) -> None:
    settings = make_settings(database_url)
    now = utcnow()
    closed = closures.StatusChange(700_001, "closed", 11771, "Касса", None)
    other = closures.StatusChange(700_002, "closed", 11771, "Принтер", None)
    reopened = closures.StatusChange(700_002, "in_progress", 11771, "Принтер", None)
    decisions = closures.record_status_changes(
        engine, settings, [(closed, now), (closed, now), (other, now), (reopened, now)]
    )
    assert decisions == [
        ClosureDecision.OPEN,
        ClosureDecision.DUPLICATE,
        ClosureDecision.OPEN,
        ClosureDecision.CANCEL,
    ]
    with transaction(engine) as session:
        assert current_survey(session, issue_id=700_001) is not None
        assert current_survey(session, issue_id=700_002) is None
        # As one by one: both invitations queued, the reopened one's closing queued too.
        assert pending_by_kind(session) == {JobKind.INVITE: 2, JobKind.CLOSE_INVITATION: 1}


def test_a_batch_reopened_and_closed_again_opens_a_second_survey(
    engine: Engine, database_url: str
) -> None:
    settings = make_settings(database_url)
    now = utcnow()
    closed = closures.StatusChange(700_003, "closed", 11771, "Касса", None)
    reopened = closures.StatusChange(700_003, "in_progress", 11771, "Касса", None)
    decisions = closures.record_status_changes(
        engine, settings, [(closed, now), (reopened, now), (closed, now), (closed, now)]
    )
    assert decisions == [
        ClosureDecision.OPEN,
        ClosureDecision.CANCEL,
        ClosureDecision.OPEN,
        ClosureDecision.DUPLICATE,
    ]
    with transaction(engine) as session:
        states = session.exec(
            select(Survey.state).where(Survey.issue_id == 700_003).order_by(col(Survey.id))
        ).all()
        assert states == [SurveyState.CANCELLED, SurveyState.INVITING]
        assert pending_by_kind(session) == {JobKind.INVITE: 2, JobKind.CLOSE_INVITATION: 1}


def test_a_survey_opened_by_another_replica_meanwhile_makes_this_closure_a_duplicate(
    engine: Engine, database_url: str
) -> None:
    settings = make_settings(database_url)
    now = utcnow()
    with transaction(engine) as session:
        batch = closures._Batch(session, settings, [700_004])
        batch.record(closures.StatusChange(700_004, "closed", 11771, "Касса", None), now)
        # Another replica commits its survey of the same ticket between our read and insert.
        other = new_survey(
            token="other",
            issue_id=700_004,
            current_issue_id=700_004,
            state=SurveyState.INVITING,
            language="ru",
            created_at=now,
            updated_at=now,
        )
        assert open_surveys(session, [other]) == {700_004: ANY}
        batch.flush()
        assert batch.decisions == [ClosureDecision.DUPLICATE]
        assert pending_by_kind(session) == {}


def test_a_new_survey_row_is_what_the_orm_object_would_insert() -> None:
    now = utcnow()
    values: dict[str, Any] = {
        "token": "t",
        "issue_id": 1,
        "current_issue_id": 1,
        "state": SurveyState.INVITING,
        "language": "ru",
        "issue_title": "Касса",
        "contact_id": 11771,
        "created_at": now,
        "updated_at": now,
        "deadline_at": None,
        "remind_at": None,
    }
    assert new_survey(**values) == Survey(**values).model_dump(exclude={"id"})


LATER = datetime(2026, 12, 1, 23, 59, 58, 123456, tzinfo=timezone(timedelta(hours=3)))


def _every_column_set(now: datetime) -> dict[str, Any]:
    """A survey with a value in every column: quotes, backslashes, Cyrillic, 64-bit ids,
    booleans, datetimes in another zone to the microsecond."""
    return new_survey(
        token="tok-1",
        issue_id=9_000_000_001,
        current_issue_id=9_000_000_001,
        state=SurveyState.AWAITING,
        reason='a "quoted" \\ reason',
        language="en",
        issue_title="Касса не печатает чек ★",
        engineer="Иван Петров",
        engineer_group="Поддержка",
        company_id=2**40,
        company_name="ООО «Ромашка»",
        type_code="service",
        priority_code="high",
        is_test=True,
        contact_id=11771,
        bitrix_user_id=2**33,
        portal=0,  # the portal the person's id names (set with it)
        message_id=77,
        score=4,
        automatic=True,
        rated_by=5,
        reply_text="отлично\nспасибо",
        okdesk_rate="good",
        created_at=now,
        updated_at=now,
        deadline_at=LATER,
        remind_at=LATER,
        change_until=LATER,
        changing=True,
    )


def test_surveys_opened_together_read_back_as_written(engine: Engine) -> None:
    """Every column survives the batch insert (on PostgreSQL the rows travel as JSON), nulls
    included; each ticket gets its own id."""
    now = utcnow()
    full = _every_column_set(now)
    bare = new_survey(
        token="tok-2",
        issue_id=2,
        current_issue_id=2,
        state=SurveyState.INVITING,
        language="ru",
        created_at=now,
        updated_at=now,
    )
    with transaction(engine) as session:
        opened = open_surveys(session, [full, bare])
    assert set(opened) == {9_000_000_001, 2} and len(set(opened.values())) == 2
    in_utc = {name: LATER.astimezone(UTC) for name in ("deadline_at", "remind_at", "change_until")}
    with transaction(engine) as session:
        for row, expected in ((full, {**full, **in_utc}), (bare, bare)):
            stored = session.get(Survey, opened[row["issue_id"]])
            assert stored is not None
            assert stored.model_dump(exclude={"id"}, warnings=False) == expected


def test_a_naive_datetime_is_refused_by_the_batch_insert(engine: Engine) -> None:
    row = new_survey(
        token="tok-3",
        issue_id=3,
        current_issue_id=3,
        state=SurveyState.INVITING,
        language="ru",
        created_at=datetime(2026, 12, 1, 12, 0),  # noqa: DTZ001 - the naive one refused
        updated_at=utcnow(),
    )
    with pytest.raises(Exception, match="naive datetime"), transaction(engine) as session:
        open_surveys(session, [row])
