"""The weekly digest in the team's chat: the week's figures beside the week before's, computed
here by hand; posted once across two workers and a restart; a missed one posted late, once;
due at DIGEST_AT in TIMEZONE. The clock is the test's: no week is waited for."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine

from bridge.config.attention_settings import Weekly
from bridge.team.schedule import latest_due
from storage.tables import JobKind
from tests.fast.clock import FixedClock
from tests.fast.fakes import Posted
from tests.fast.harness import Service
from tests.team.steps import seed_rating, team_chat, team_service

pytestmark = pytest.mark.anyio

# Monday 9 March 2026, 09:00 in Moscow (06:00 UTC): the digest of 2–8 March is due.
DUE = datetime(2026, 3, 9, 6, 0, tzinfo=UTC)
IVAN, OLEG, ANNA = "Иван Петров", "Олег Смирнов", "Анна Козлова"
DIGEST = (
    "[b]Оценки за неделю 02.03–08.03.2026[/b]"
    "[br]CSAT: 58% (неделей раньше: 67%)"
    "[br]Ответили на опрос: 80% (неделей раньше: 75%)"
    "[br]Оценок: 12 (неделей раньше: 3)"
    f"[br]Лучше всех: {IVAN} — CSAT 80%, оценок: 5"
    f"[br]Ниже всех: {OLEG} — CSAT 20%, оценок: 5"
    "[br]Низких оценок ждут разбора: 3"
    "[br][url=https://rating.acme.example/admin?from=2026-03-02&to=2026-03-08]Отчёт[/url]"
)


@pytest.fixture
def service(engine: Engine, database_url: str) -> Service:
    """The team's chat with a digest on Mondays at 09:00 (Moscow), and two weeks of ratings.

    The week of 2–8 March: Иван 5 5 4 4 2, Олег 5 3 3 2 1, Анна 5 5 (too few to be named),
    two invitations unanswered and one automatic 5: 12 people's ratings, 7 of them 4 or 5
    (CSAT 7/12 = 58%), 15 invitations delivered (12/15 = 80%). The week before: Иван 4 4,
    Олег 1 (handled), one unanswered: CSAT 2/3 = 67%, 3/4 = 75%. Low and unhandled: Иван's 2,
    Олег's 2 and 1 = 3.
    """
    service = team_service(
        engine, database_url, digest_at="mon 09:00", public_url="https://rating.acme.example"
    )
    service.clock = FixedClock(DUE)
    week = datetime(2026, 3, 3, 12, tzinfo=UTC)
    scores: dict[str, list[int | None]] = {
        IVAN: [5, 5, 4, 4, 2, None, None],
        OLEG: [5, 3, 3, 2, 1],
        ANNA: [5, 5],
    }
    number = 1000
    for engineer, given in scores.items():
        for score in given:
            number += 1
            seed_rating(service, number, week, engineer=engineer, score=score)
    seed_rating(service, 1100, week, engineer=ANNA, score=5, automatic=True)
    before = datetime(2026, 2, 25, 12, tzinfo=UTC)
    for number, score in ((2001, 4), (2002, 4), (2004, None)):
        seed_rating(service, number, before, engineer=IVAN, score=score)
    seed_rating(service, 2003, before, engineer=OLEG, score=1, handled=True)
    return service


def digests(service: Service) -> list[Posted]:
    return [p for p in team_chat(service) if p.message.text.startswith("[b]Оценки за неделю")]


async def test_the_digest_holds_the_weeks_figures_beside_the_week_before(
    service: Service,
) -> None:
    await service.drain()

    (digest,) = digests(service)
    assert digest.message.text == DIGEST
    assert digest.message.keyboard is None


async def test_the_digest_is_posted_once_across_two_workers_and_a_restart(
    service: Service,
) -> None:
    # Two workers (replicas) at the same moment, then a third after a restart, a day later.
    await asyncio.gather(service.drain(), service.drain())
    await service.later(timedelta(days=1))

    assert len(digests(service)) == 1
    assert len([job for job in service.jobs() if job.kind == JobKind.DIGEST]) == 1


async def test_a_missed_digest_is_posted_late_and_once(service: Service) -> None:
    # No worker ran on Monday: the first one to run, on Tuesday, posts it.
    service.clock.advance(timedelta(days=1, hours=4))
    await service.drain()
    (late,) = digests(service)
    assert late.message.text == DIGEST

    await service.later(timedelta(days=5, hours=19, minutes=59))  # Monday 16 March, 08:59
    assert len(digests(service)) == 1
    await service.later(timedelta(minutes=1))  # 09:00: the next week's
    assert [p.message.text.split("[br]")[0] for p in digests(service)] == [
        "[b]Оценки за неделю 02.03–08.03.2026[/b]",
        "[b]Оценки за неделю 09.03–15.03.2026[/b]",
    ]


async def test_no_digest_without_digest_at(service: Service) -> None:
    service.configure(alert_dialog_id="chat77", digest_at="off")
    await service.drain()
    assert digests(service) == []


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (datetime(2026, 3, 9, 5, 59, tzinfo=UTC), "2026-03-02"),  # 08:59 in Moscow
        (datetime(2026, 3, 9, 6, 0, tzinfo=UTC), "2026-03-09"),
        (datetime(2026, 3, 15, 20, 59, tzinfo=UTC), "2026-03-09"),  # Sunday 23:59
    ],
)
def test_the_digest_is_due_at_its_moment_in_moscow(now: datetime, due: str) -> None:
    when = Weekly(0, time(9, 0))
    assert latest_due(now, when, ZoneInfo("Europe/Moscow")).isoformat() == due
