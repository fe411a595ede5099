"""Health (`/healthz`: alive, database reachable) and readiness (`/readyz`: doing its job).

Readiness tells the truth about what an administrator would otherwise learn from missing
ratings: a stalled worker, a deleted bot, a portal Bitrix24 has blocked, a portal whose events
are no longer fetched (imbot.v2), example settings. The settings' own portal's trouble is the
service's (503); an added portal's makes it `degraded` (200), naming the portal.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any, Protocol

from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.messenger import register_step
from bridge.config.settings import Settings
from bridge.web.gauges import poll_lags
from storage import portals, status
from storage.db import ping, transaction
from storage.portals import DEFAULT, DEFAULT_NUMBER, Portal, PortalState
from storage.status import StatusKey
from storage.tables import utcnow

POLL_LAGS = "poll_lags"
PORTALS = "portals"
NOW = "now"


class PollerPulse(Protocol):
    """What readiness asks of the imbot.v2 event poller."""

    @property
    def last_error(self) -> str | None:
        """Why the last poll failed, when it did."""
        ...


class WorkerPulse(Protocol):
    """What readiness asks of the in-process worker."""

    def seconds_since_pass(self) -> float:
        """Seconds since the last complete pass (or since start, before the first)."""
        ...

    @property
    def last_error(self) -> str | None:
        """Why the last pass failed, when it did."""
        ...


async def liveness(engine: Engine) -> JSONResponse:
    """200 while the database answers; 503 with the reason otherwise."""
    try:
        await asyncio.to_thread(ping, engine)
    except SQLAlchemyError as exc:
        body = {"status": "unavailable", "database": f"unreachable ({type(exc).__name__})"}
        return JSONResponse(body, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


async def readiness(
    engine: Engine,
    settings: Settings,
    worker: WorkerPulse | None,
    poller: PollerPulse | None = None,
) -> JSONResponse:
    """200 when every check passes (`degraded` naming an added portal in trouble); 503 naming
    each check that does not pass."""
    checks: dict[str, str] = {}
    facts: dict[str, Any] = {}
    try:
        facts = await asyncio.to_thread(_stored_facts, engine, settings)
        checks["database"] = "ok"
    except SQLAlchemyError as exc:
        checks["database"] = f"unreachable ({type(exc).__name__})"
    checks["worker"] = _worker_check(settings, worker)
    stored: list[Portal] = facts.get(PORTALS, [])
    checks["bot"], checks["portal"] = _home_checks(stored)
    checks["member_id"] = _member_check(settings, facts.get(StatusKey.BITRIX_MEMBER_MISMATCH))
    lags: dict[str, float | None] = facts.get(POLL_LAGS, {})
    if settings.fetches_events and (DEFAULT in lags or not stored):  # unless it was removed
        checks["events"] = _events_check(settings, poller, lags.get(DEFAULT))
    checks["settings"] = _settings_check(settings)
    reasons = [f"{name}: {value}" for name, value in checks.items() if value not in ("ok", "off")]
    degraded = _degraded(settings, stored, lags, facts.get(NOW))
    body = {
        "status": "not_ready" if reasons else "degraded" if degraded else "ready",
        "reasons": reasons,
        # An added portal in trouble: only its own people wait (the service is still ready).
        "degraded": degraded,
        "checks": checks,
        "worker_last_run": facts.get(StatusKey.WORKER_HEARTBEAT),
        "bitrix_webhook_owner": _owner_said(facts.get(StatusKey.WEBHOOK_OWNER)),
        # Each portal's state, shown.
        "portals": {p.name: _portal_state(p) for p in stored},
        "bitrix_poll_lags": lags,  # of each portal whose events are fetched
    }
    if settings.fetches_events:
        body["bitrix_poll_lag_seconds"] = lags.get(DEFAULT)
    return JSONResponse(body, status_code=503 if reasons else 200)


# Shown, never a reason to be unready: employees are found either way (bitrix24.md §13).
_UNKNOWN = "not checked yet: python -m bridge.admin check tells"


def _home_checks(stored: list[Portal]) -> tuple[str, str]:
    """The settings' portal's bot and block: its trouble is the service's (503)."""
    home = next((p for p in stored if p.id == DEFAULT_NUMBER), None)
    if home is None:
        return "ok", "ok"
    bot = "ok"
    if home.state == PortalState.BOT_DELETED:
        bot = f"deleted at {home.updated_at.isoformat()}: run {register_step()}"
    return bot, _portal_check(home.blocked_until)


def _portal_check(probe_at: datetime | None) -> str:
    """Whether Bitrix24 blocked the settings' portal by hand (OVERLOAD_LIMIT)."""
    if probe_at is None:
        return "ok"
    return (
        f"blocked by Bitrix24 (OVERLOAD_LIMIT), next probe at {probe_at.isoformat()}: nothing "
        "is sent until it lifts; ask Bitrix24 support"
    )


def _degraded(
    settings: Settings,
    stored: list[Portal],
    lags: dict[str, float | None],
    now: datetime | None,
) -> list[str]:
    """A line for each added portal in trouble: blocked, its bot deleted, or its events (v2)
    not fetched lately."""
    lines = []
    for portal in stored:
        if portal.id == DEFAULT_NUMBER:
            continue
        if _in_trouble(portal):
            lines.append(_trouble(portal))
        elif portal.name in lags and now is not None:
            stalled = _stalled(settings, portal, lags[portal.name], now)
            lines += [f"portal {portal.name}: {stalled}"] if stalled else []
    return lines


def _stalled(settings: Settings, portal: Portal, lag: float | None, now: datetime) -> str | None:
    """Why an added portal's events are late (None while they are fetched): no answer to its
    Event.get for too long, or none since it was added (a moment's grace for its poller)."""
    if lag is None:
        waited = (now - portal.updated_at).total_seconds()
        if waited <= _late(settings):
            return None
        return f"its events not fetched yet ({waited:.0f} s since it was added or last changed)"
    if lag <= _late(settings):
        return None
    return f"its events not fetched for {lag:.0f} s (they wait on the portal, about 24 h)"


def _late(settings: Settings) -> float:
    """Seconds without an answer to Event.get that make a portal's events late."""
    return max(60.0, settings.bitrix_poll_interval.total_seconds() * 10)


def _in_trouble(portal: Portal) -> bool:
    """Whether an added portal's people cannot be asked now (removed is no trouble)."""
    return portal.state == PortalState.BOT_DELETED or (
        portal.state != PortalState.REMOVED and portal.blocked_until is not None
    )


def _trouble(portal: Portal) -> str:
    """What is wrong with an added portal, and what the operator does about it."""
    if portal.state == PortalState.BOT_DELETED:
        step = register_step(portal.name, portal.api)
        return f"portal {portal.name}: its bot was deleted: run {step} again"
    return f"portal {portal.name}: {_portal_check(portal.blocked_until)}"


def _settings_check(settings: Settings) -> str:
    placeholders = ", ".join(settings.placeholders())
    return f"{placeholders} still hold example values" if placeholders else "ok"


def _owner_said(found: object) -> str:
    """What the last `admin check` found of the incoming webhook's owner."""
    return _OWNER_SAID.get(str(found or ""), _UNKNOWN)


_OWNER_SAID = {
    "administrator": "a portal administrator",
    "not_administrator": "not a portal administrator: extranet users outside the owner's "
    "groups are not found; create the webhook as an administrator",
}


def _stored_facts(engine: Engine, settings: Settings) -> dict[str, Any]:
    now = utcnow()
    with transaction(engine) as session:
        keys = (
            StatusKey.WORKER_HEARTBEAT,
            StatusKey.BITRIX_MEMBER_MISMATCH,
            StatusKey.WEBHOOK_OWNER,
        )
        found = {key: status.get_status(session, key=key) for key in keys}
        stored = portals.all_portals(session)
        lags = poll_lags(session, settings, stored, now)
    facts: dict[str, Any] = {key: fact.value if fact else None for key, fact in found.items()}
    facts[POLL_LAGS] = lags
    facts[PORTALS] = stored
    facts[NOW] = now
    return facts


def _portal_state(portal: Portal) -> str:
    """A portal's state as /readyz shows it (`blocked until …` with its time)."""
    until = portal.blocked_until
    return str(portal.state) if until is None else f"{portal.state} until {until.isoformat()}"


def _member_check(settings: Settings, mismatch: str | None) -> str:
    """Events' `auth[member_id]` against BITRIX_MEMBER_ID (`bridge.web.installation`)."""
    if settings.bitrix_member_id is None:
        return "off"
    if mismatch is None:
        return "ok"
    return (
        f"an event carried member_id {mismatch}, not BITRIX_MEMBER_ID: events are refused "
        "(python -m bridge.admin check shows what the portal's events carry)"
    )


def _events_check(settings: Settings, poller: PollerPulse | None, lag: float | None) -> str:
    """imbot.v2 fetch mode: is some replica fetching the settings' own portal's events?"""
    late = _late(settings)
    if lag is not None and lag <= late:
        return "ok"
    why = f": {poller.last_error}" if poller is not None and poller.last_error else ""
    if lag is None:
        return (
            "not fetched yet" + why if not settings.worker_enabled or poller else "not fetched yet"
        )
    return f"not fetched for {lag:.0f} s (events wait on the portal, about 24 h){why}"


def stale_after(settings: Settings) -> timedelta:
    """How long without a complete pass means the worker is stuck."""
    return max(timedelta(seconds=60), settings.worker_poll_interval * 20)


def _worker_check(settings: Settings, worker: WorkerPulse | None) -> str:
    if not settings.worker_enabled:
        return "off"
    if worker is None:
        return "off" if settings.placeholders() else "not running"
    if worker.last_error:
        return f"failing, retrying with backoff: {worker.last_error}"
    age = worker.seconds_since_pass()
    if age > stale_after(settings).total_seconds():
        return f"stalled: last complete pass {age:.0f} s ago"
    return "ok"
