"""Posting to the team's chat, once: the `alert` and `digest` jobs.

A team message is posted by one job attempt at a time. Before the message goes to Bitrix24
the attempt records that it is sending (its lease); when Bitrix24 answers, the message id is
recorded with the job's end. An attempt that finds another's mark left behind knows that one
died between sending and recording: Bitrix24 has no way to ask what a bot posted, so the
message may be in the chat or not, and it is never sent again (`unsure_at` on its row).
A failure before Bitrix24 took it frees the mark, and the job is retried like any other.

An alert already posted is edited: it shows what is known now (the person's words, who took
it). Several replicas never post one message twice: the mark is taken under a row lock.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.errors import MessageNotEditableError
from bot.messenger import ChatMessage
from bridge.config.settings import Settings
from bridge.outside.vendors import Vendors
from bridge.survey.jobs import Effect, Outcome, nothing
from bridge.team import alerts, digest
from outbound.errors import DeliveryError, TransientError
from storage.db import transaction
from storage.tables import Job, JobKind
from storage.team import posts
from storage.team.posts import Sending

log = logging.getLogger(__name__)

KINDS = frozenset({JobKind.ALERT, JobKind.DIGEST})


def key_of(job: Job) -> str | None:
    """Which team message a job posts (an alert by its survey, a digest by its payload)."""
    if job.kind == JobKind.ALERT and job.survey_id is not None:
        return posts.alert_key(job.survey_id)
    return digest.key_in(job.payload) if job.kind == JobKind.DIGEST else None


async def run(
    job: Job, engine: Engine, vendors: Vendors, settings: Settings, now: datetime
) -> Outcome:
    """Post the job's team message, or bring a posted alert up to date."""
    key = key_of(job)
    if key is None or not settings.alert_dialog_id:
        return nothing
    found = await asyncio.to_thread(_draft, engine, settings, key)
    if found is None:
        return nothing
    message_id, message = found
    if message_id is not None:
        return await _edit(vendors, settings, key, message_id, message)
    assert job.lease_token is not None
    lease = job.lease_token
    sending = await asyncio.to_thread(_start, engine, key, lease, now)
    if sending is Sending.BUSY:
        return TransientError("another worker is posting this message to the team's chat")
    if sending is not Sending.MAY:
        if sending is Sending.UNSURE:
            log.warning("team.post_unsure key=%s", key)
        return nothing
    try:
        posted = await vendors.messenger.send(settings.alert_dialog_id, message)
    except DeliveryError:
        await asyncio.to_thread(_stop, engine, key, lease)
        raise
    log.info("team.posted key=%s message_id=%s", key, posted)
    return _recorded(key, posted)


def _draft(engine: Engine, settings: Settings, key: str) -> tuple[int | None, ChatMessage] | None:
    """The message's id if posted, and what it says now (None: nothing to post)."""
    with transaction(engine) as session:
        row = posts.message(session, key=key)
        if row is None:
            return None
        if row.survey_id is not None:
            said = alerts.alert_message(session, settings, row)
            return (row.message_id, said) if said is not None else None
        message_id = row.message_id
    # A digest reads the report's figures in a snapshot of their own.
    return message_id, digest.digest_message(engine, settings, key)


def _start(engine: Engine, key: str, lease: str, now: datetime) -> Sending:
    with transaction(engine) as session:
        return posts.start_sending(session, key=key, lease=lease, now=now)


def _stop(engine: Engine, key: str, lease: str) -> None:
    with transaction(engine) as session:
        posts.stop_sending(session, key=key, lease=lease)


def _recorded(key: str, message_id: int) -> Effect:
    def record(session: Session, now: datetime) -> None:
        posts.posted(session, key=key, message_id=message_id, now=now)

    return record


async def _edit(
    vendors: Vendors, settings: Settings, key: str, message_id: int, message: ChatMessage
) -> Outcome:
    """Edit a posted alert; one Bitrix24 no longer lets us edit (v1: after 3 days, a portal
    setting) keeps what it said, and the report page shows the rest."""
    try:
        await vendors.messenger.edit(message_id, message)
    except MessageNotEditableError:
        log.warning("team.not_editable key=%s message_id=%s", key, message_id)
    return nothing
