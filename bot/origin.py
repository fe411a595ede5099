"""Whether an event comes from our portal, judged from its `auth[...]` block alone.

Bitrix24 signs nothing: an event is ours when `auth[application_token]` is the token of our
handler (for a webhook bot, its CLIENT_ID) and `auth[domain]` is our portal's host
(bitrix24.md §5, "Authenticity"). Which installation of the portal (`auth[member_id]`) is
pinned by the caller, who remembers it.
"""

from __future__ import annotations

import hmac
from enum import StrEnum

from bot.events import EventAuth


class Refusal(StrEnum):
    """Why an event is not taken as our portal's."""

    APPLICATION_TOKEN = "application_token"
    DOMAIN = "domain"


def refusal(auth: EventAuth, *, application_token: str, portal_domain: str) -> Refusal | None:
    """Why the event is not from our portal, or None when it is."""
    # compare_digest on str refuses non-ASCII with TypeError; compare bytes instead.
    if not hmac.compare_digest(auth.application_token.encode(), application_token.encode()):
        return Refusal.APPLICATION_TOKEN
    if auth.domain.lower().split(":")[0] != portal_domain:
        return Refusal.DOMAIN
    return None
