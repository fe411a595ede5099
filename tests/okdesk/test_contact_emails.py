"""A contact's e-mail is kept in memory for a minute: one read for a burst of one contact's
closures, lookups at the same time share it, a failure is not kept, and after the minute it is
read again (personal data: docs/security.md)."""

from __future__ import annotations

import asyncio

import pytest

from bridge.okdesk.contacts import EMAIL_TTL, RecentEmails
from outbound.errors import TransientError

pytestmark = pytest.mark.anyio


class Okdesk:
    """Counts the reads of a contact, each taking a moment, failing when told."""

    def __init__(self) -> None:
        self.reads = 0
        self.failing = False
        self.email: str | None = "i.petrov@romashka.example"

    async def read(self) -> str | None:
        self.reads += 1
        await asyncio.sleep(0.01)
        if self.failing:
            raise TransientError("Okdesk contact lookup: HTTP 503")
        return self.email


async def test_one_contacts_lookups_share_one_read_until_the_minute_is_over() -> None:
    now = [1000.0]
    emails, okdesk = RecentEmails(clock=lambda: now[0]), Okdesk()

    found = await asyncio.gather(*(emails.email(11771, okdesk.read) for _ in range(20)))
    assert found == ["i.petrov@romashka.example"] * 20 and okdesk.reads == 1
    okdesk.email = "new@romashka.example"
    now[0] += EMAIL_TTL - 1
    assert await emails.email(11771, okdesk.read) == "i.petrov@romashka.example"
    now[0] += 2
    assert await emails.email(11771, okdesk.read) == "new@romashka.example"
    assert okdesk.reads == 2


async def test_a_failed_read_is_not_kept_and_the_oldest_contacts_are_forgotten_first() -> None:
    emails, okdesk = RecentEmails(most=2), Okdesk()
    okdesk.failing = True
    with pytest.raises(TransientError):
        await emails.email(1, okdesk.read)
    okdesk.failing = False
    for contact in (1, 2, 3):
        await emails.email(contact, okdesk.read)
    await emails.email(1, okdesk.read)
    assert okdesk.reads == 5  # the failure, 1, 2, 3, and 1 again (forgotten for 3)
