"""`check`: what the portal's events carry (`auth` keys, `member_id`) and BITRIX_MEMBER_ID.

Read from the database, where the service records it once a process (`bridge.web.installation`):
no REST method over an incoming webhook tells a portal's `member_id`, so this is how the
operator learns what to set.
"""

from __future__ import annotations

import asyncio

from bridge.admin.context import Context
from bridge.web import set_aside
from storage import status
from storage.db import transaction
from storage.status import StatusKey


async def events_carry(ctx: Context) -> tuple[bool, str]:
    """Whether events match BITRIX_MEMBER_ID, and what they carry."""
    seen, mismatch = await asyncio.to_thread(_stored, ctx)
    carried = f"events carry {seen}" if seen else "no event received yet"
    configured = ctx.settings.bitrix_member_id
    if configured is None:
        return True, f"BITRIX_MEMBER_ID not configured (not checked); {carried}"
    if mismatch is not None:
        return False, f"an event carried member_id {mismatch}, not BITRIX_MEMBER_ID; {carried}"
    return True, f"BITRIX_MEMBER_ID is set; {carried}"


def _stored(ctx: Context) -> tuple[str | None, str | None]:
    with transaction(ctx.engine) as session:
        seen = status.get_status(session, key=StatusKey.BITRIX_EVENT_AUTH)
        mismatch = status.get_status(session, key=StatusKey.BITRIX_MEMBER_MISMATCH)
        return (seen.value if seen else None, mismatch.value if mismatch else None)


async def set_aside_said(ctx: Context) -> str:
    """The fetched events set aside (issue 22, point 9), in one line."""

    def read() -> str:
        with transaction(ctx.engine) as session:
            return set_aside.said(set_aside.listed(session))

    return await asyncio.to_thread(read)
