"""The worker's claim is fair across portals (SQLite and PostgreSQL): each portal's invitations
and chat jobs are claimed within that portal's own places, so a portal that is blocked,
throttled or unreachable (its jobs waiting, or its places full) never holds back another's;
a blocked portal gets one probe once it is due, and its block is its own."""

from __future__ import annotations

import secrets
import time
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from bot.errors import PortalBlockedError
from bridge.outside.portals import ensure_default
from bridge.outside.vendors import budget_shape
from bridge.worker.scheduling import CHAT_LANE, INVITATIONS, Claimed, Scheduler, Slot, lane_sizes
from bridge.worker.settle import Settler
from harness.vendors import make_settings
from storage import budget, portals, queue, status
from storage.db import transaction
from storage.portals import SPAN, Portal, PortalState
from storage.tables import JobKind, Survey, SurveyState, utcnow
from tests.databases import jobs, surveys

ACME = 4242  # a company connected to the portal `acme` (number 1)
HOME = 2058  # a company connected to none: the settings' portal asks
T0 = datetime(2026, 12, 6, 9, 0, tzinfo=utcnow().tzinfo)


def _portal_acme(engine: Engine, database_url: str) -> None:
    ensure_default(engine, make_settings(database_url), T0)
    with transaction(engine) as session:
        acme = Portal(
            id=1,
            name="acme",
            domain="acme.bitrix24.ru",
            api="v1",
            bot_code="okdesk_rating",
            state=PortalState.ACTIVE,
            created_at=T0,
            updated_at=T0,
        )
        portals.save_portal(session, acme, now=T0)
        portals.map_company(session, company_id=ACME, portal_id=1)


def _jobs(
    engine: Engine,
    kind: JobKind,
    count: int,
    *,
    company: int,
    user: int | None,
    start: datetime = T0,
) -> None:
    """`count` due jobs of `kind`, each of a survey of `company` (asking `user`, when known)."""
    with transaction(engine) as session:
        for n in range(count):
            survey = Survey(
                token=secrets.token_hex(8),
                issue_id=company * 1000 + n + (0 if user is None else 500),
                state=SurveyState.INVITING if user is None else SurveyState.AWAITING,
                language="ru",
                company_id=company,
                bitrix_user_id=user,
                created_at=T0,
                updated_at=T0,
            )
            session.add(survey)
            session.flush()
            assert survey.id is not None
            queue.enqueue(session, kind=kind, now=start + timedelta(seconds=n), survey_id=survey.id)


def _by_place(claimed: Claimed) -> dict[Slot, int]:
    found: Counter[Slot] = Counter()
    for slot, taken in claimed.groups:
        found[slot] += len(taken)
    return dict(found)


def _of_acme(claimed: Claimed) -> dict[Slot, int]:
    return {slot: n for slot, n in _by_place(claimed).items() if slot.portal == 1}


def _busy(database_url: str, portal: int) -> Counter[Slot]:
    """Every place of `portal` taken (its jobs waiting for its request budget, say)."""
    sizes = lane_sizes(make_settings(database_url))
    return Counter(
        {
            Slot(CHAT_LANE, portal): sizes[CHAT_LANE],
            Slot(INVITATIONS, portal): sizes[INVITATIONS],
        }
    )


def test_a_portal_with_many_older_jobs_never_holds_back_anothers(
    database_url: str, engine: Engine
) -> None:
    _portal_acme(engine, database_url)
    _jobs(engine, JobKind.INVITE, 120, company=ACME, user=None)
    _jobs(engine, JobKind.REMIND, 150, company=ACME, user=SPAN + 27)
    later = T0 + timedelta(minutes=5)
    _jobs(engine, JobKind.INVITE, 3, company=HOME, user=None, start=later)
    scheduler = Scheduler(engine, make_settings(database_url))
    now = later + timedelta(minutes=1)
    taken = scheduler.claim(now, Counter())
    claimed = _by_place(taken)
    sizes = lane_sizes(make_settings(database_url))
    chat = sizes[CHAT_LANE]
    # Each portal's invitations in batches of its own portal's surveys only: as many batches
    # in one pass as the portal has places free (one a pass, then two, the chat lane's size,
    # left places empty until the next wake), each of at most 50.
    assert claimed[Slot(INVITATIONS, 0)] == 3
    batches = [len(batch) for slot, batch in taken.groups if slot == Slot(INVITATIONS, 1)]
    assert batches == [50, 50, 20]
    assert claimed[Slot(CHAT_LANE, 1)] == min(150, chat)
    # acme's places all taken: the settings' portal's new closure is still claimed at once.
    _jobs(engine, JobKind.INVITE, 1, company=HOME + 1, user=None, start=later)
    again = _by_place(scheduler.claim(now, _busy(database_url, 1)))
    assert again == {Slot(INVITATIONS, 0): 1}


def test_a_portal_starts_more_batches_only_while_its_budget_has_requests_in_hand(
    database_url: str, engine: Engine
) -> None:
    _portal_acme(engine, database_url)
    _jobs(engine, JobKind.INVITE, 300, company=ACME, user=None)
    # A portal whose budget refills so slowly that a slow machine sees no request come back.
    settings = make_settings(database_url, bitrix_requests_per_second="0.0001")
    scheduler = Scheduler(engine, settings)
    now = T0 + timedelta(minutes=10)
    running = Counter({Slot(INVITATIONS, 1): 2})
    # A full budget (a burst of closures): more batches beside the two running, all due.
    assert _of_acme(scheduler.claim(now, running)) == {Slot(INVITATIONS, 1): 300}
    _jobs(engine, JobKind.INVITE, 300, company=ACME, user=None)  # due again, for what follows
    # acme's budget spent (its rate paces it): two batches at once, no more.
    shape = budget_shape(settings.model_copy(update={"bitrix_api": "v1"}), 1)
    with transaction(engine) as session:
        for _ in range(shape.burst):
            budget.take_request(
                session, name=shape.name, now=time.time(), burst=shape.burst, per_second=0.0001
            )
    assert _of_acme(scheduler.claim(now, running)) == {}
    assert _of_acme(scheduler.claim(now, Counter({Slot(INVITATIONS, 1): 1}))) == {
        Slot(INVITATIONS, 1): 50
    }


def _acme_invitations(engine: Engine, database_url: str, count: int) -> Scheduler:
    """`count` of acme's invitations due, and a scheduler with the default settings."""
    _portal_acme(engine, database_url)
    _jobs(engine, JobKind.INVITE, count, company=ACME, user=None)
    return Scheduler(engine, make_settings(database_url))


def test_a_burst_the_budget_carries_starts_as_many_batches_as_the_burst_carries(
    database_url: str, engine: Engine
) -> None:
    # 1,000 people: 20 batches, 40 requests, within the 49 in hand.
    scheduler = _acme_invitations(engine, database_url, 1_000)
    now = T0 + timedelta(hours=1)
    # All of them in one pass: with four places at most, the burst waited behind its first
    # four batches; with two a pass, behind passes half a second apart.
    taken = scheduler.claim(now, Counter())
    assert [len(batch) for _, batch in taken.groups] == [50] * 20
    # Twenty batches already out, each waiting on Okdesk: the next pass still starts more.
    _jobs(engine, JobKind.INVITE, 200, company=ACME, user=None)
    assert _of_acme(scheduler.claim(now, Counter({Slot(INVITATIONS, 1): 20}))) == {
        Slot(INVITATIONS, 1): 200
    }
    # As many as 49 requests carry, and no more.
    _jobs(engine, JobKind.INVITE, 100, company=ACME, user=None)
    assert _of_acme(scheduler.claim(now, Counter({Slot(INVITATIONS, 1): 23}))) == {
        Slot(INVITATIONS, 1): 50
    }
    assert _of_acme(scheduler.claim(now, Counter({Slot(INVITATIONS, 1): 24}))) == {}


def test_a_backlog_larger_than_the_budget_carries_goes_two_batches_at_a_time(
    database_url: str, engine: Engine
) -> None:
    # 49 requests in hand carry 24 batches of 50 (a lookup and a message each): 1,200 people.
    scheduler = _acme_invitations(engine, database_url, 1_201)
    now = T0 + timedelta(hours=1)
    assert _of_acme(scheduler.claim(now, Counter({Slot(INVITATIONS, 1): 2}))) == {}
    assert _of_acme(scheduler.claim(now, Counter())) == {Slot(INVITATIONS, 1): 100}


def test_a_blocked_portal_gets_nothing_until_its_probe_is_due_then_one_job(
    database_url: str, engine: Engine
) -> None:
    _portal_acme(engine, database_url)
    _jobs(engine, JobKind.INVITE, 20, company=ACME, user=None)
    _jobs(engine, JobKind.REMIND, 20, company=ACME, user=SPAN + 27)
    _jobs(engine, JobKind.REMIND, 2, company=HOME, user=27)
    now = T0 + timedelta(minutes=1)
    with transaction(engine) as session:
        probe_at = now + timedelta(minutes=10)
        assert status.blocked(session, number=1, probe_at=probe_at, now=now)
    scheduler = Scheduler(engine, make_settings(database_url))
    assert _by_place(scheduler.claim(now, Counter())) == {Slot(CHAT_LANE, 0): 2}
    assert _of_acme(scheduler.claim(probe_at, Counter())) == {Slot(INVITATIONS, 1): 1}
    # The probe is out: nothing more of acme's until it comes back.
    busy = Counter({Slot(INVITATIONS, 1): 1})
    assert _of_acme(scheduler.claim(probe_at, busy)) == {}


def test_overload_limit_blocks_only_the_portal_that_answered_it(
    database_url: str, engine: Engine
) -> None:
    _portal_acme(engine, database_url)
    _jobs(engine, JobKind.REMIND, 1, company=ACME, user=SPAN + 27)
    _jobs(engine, JobKind.REMIND, 1, company=HOME, user=27)
    settings = make_settings(database_url, bitrix_block_probe_interval="10m")
    now = T0 + timedelta(minutes=1)
    with transaction(engine) as session:
        claimed = queue.claim_jobs(
            session, now=now, lease=timedelta(minutes=2), limit=10, kinds=[JobKind.REMIND]
        )
    acme_job, home_job = sorted(claimed, key=lambda job: job.survey_id != _survey_of(engine, 1))
    settler = Settler(engine, settings, lambda: now, lambda point: None)
    settler.settle([(acme_job, PortalBlockedError("OVERLOAD_LIMIT"))])
    assert _states(engine) == {
        "default": ("active", None),
        "acme": ("blocked", now + timedelta(minutes=10)),
    }
    # The settings' portal's job goes on; acme's job waits for the probe.
    settler.settle([(home_job, lambda session, when: None)])
    assert _states(engine)["acme"] == ("blocked", now + timedelta(minutes=10))
    assert _pending(engine) == {acme_job.id: now + timedelta(minutes=10)}


def _survey_of(engine: Engine, portal: int) -> int | None:
    return next(
        s.id for s in surveys(engine) if s.bitrix_user_id and s.bitrix_user_id // SPAN == portal
    )


def _states(engine: Engine) -> dict[str, tuple[str, datetime | None]]:
    with transaction(engine) as session:
        return {p.name: (p.state, p.blocked_until) for p in portals.all_portals(session)}


def _pending(engine: Engine) -> dict[int | None, datetime]:
    return {job.id: job.available_at for job in jobs(engine) if job.state == "pending"}
