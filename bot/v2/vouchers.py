"""Vouchers: how a typed reply fetched from Bitrix24 proves who wrote it.

A v1 event is posted to us by anyone who knows the handler URL, so a typed score counts only
once the sender's own access token is shown to be theirs (`Messenger.token_owner`). An event
*fetched* with imbot.v2.Event.get comes from Bitrix24 itself over our authenticated call and
carries no access token (bitrix24-v2.md §5): the fetcher vouches for its sender instead, with
a token only the bot's secret can make, which `token_owner` reads back without a request.
"""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "v2voucher:"


def vouch(secret: str, user_id: int) -> str:
    """A voucher saying that `user_id` wrote a fetched message."""
    return f"{PREFIX}{user_id}:{_mac(secret, user_id)}"


def vouched_user(secret: str, token: str) -> int | None:
    """The user a voucher names, or None when it is not a voucher made with `secret`."""
    if not secret or not token.startswith(PREFIX):
        return None
    user, _, mac = token.removeprefix(PREFIX).partition(":")
    if not user.isdecimal() or len(user) > 18:
        return None
    if not hmac.compare_digest(mac.encode(), _mac(secret, int(user)).encode()):
        return None
    return int(user)


def _mac(secret: str, user_id: int) -> str:
    return hmac.new(secret.encode(), f"v2-reply:{user_id}".encode(), hashlib.sha256).hexdigest()
