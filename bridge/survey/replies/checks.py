"""How many typed replies a minute are checked with our portal (`profile`): a reply that
carries an access token costs one request from the shared Bitrix24 budget, the invitations'
budget too. Forged replies with junk tokens took invitations from 0.1 s to 8 s (5 a second,
issue 23 point 6). So at most `PER_PERSON` checks a minute for one person, and `IN_ALL` for
everyone (a quarter of the budget's 2 requests a second): past them a typed reply is not
checked and changes nothing (the person still has the buttons), and invitations keep the rest.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from storage import queue
from storage.tables import JobKind

PER_PERSON = 3
IN_ALL = 30
_MINUTE = timedelta(minutes=1)


def may_check(session: Session, *, bitrix_user_id: int, now: datetime) -> bool:
    """Whether one more typed reply of this person may be checked with the portal now."""
    since = now - _MINUTE
    kind = JobKind.VERIFY_REPLY
    if queue.queued_since(session, kind=kind, since=since, bitrix_user_id=bitrix_user_id) >= (
        PER_PERSON
    ):
        return False
    return queue.queued_since(session, kind=kind, since=since) < IN_ALL
