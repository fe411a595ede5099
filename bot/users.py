"""Finding a Bitrix24 user by e-mail with `user.get` (bitrix24.md §6).

Bitrix24 silently drops filter keys the webhook's scope may not use, so every answer is
checked against the e-mail again rather than trusted from the filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.wire import Answer, php_map
from outbound.errors import DeliveryError, RejectedError

USER_FIELDS = ("ID", "EMAIL", "ACTIVE", "USER_TYPE")
# The scopes a webhook needs, each served by any of those named: `imbot` for the bot, and
# `user` or `user_basic` to find people by e-mail (§6). `profile` needs none.
NEEDED_SCOPES = {"imbot": ("imbot",), "user": ("user", "user_basic")}


@dataclass(frozen=True)
class BitrixUser:
    """A Bitrix24 user as `user.get` returns it."""

    id: int
    email: str
    active: bool


def user_query(email: str) -> dict[str, Any]:
    """The `user.get` parameters that look for the active users with this e-mail."""
    # ADMIN_MODE shows extranet users outside the webhook owner's groups (if the owner is an
    # administrator). USERAPI reads it as PHP truthiness: JSON true, or "Y" in a batch query.
    return {
        "FILTER": {"EMAIL": email, "ACTIVE": True},
        "ADMIN_MODE": True,
        "select": list(USER_FIELDS),
    }


def users_with_email(answer: Answer, email: str) -> list[BitrixUser] | DeliveryError:
    """The active users of a `user.get` answer whose e-mail is `email`, ignoring case."""
    if answer.next is not None:
        # One e-mail matching more than a page of users: the EMAIL filter was dropped.
        return RejectedError(
            f"Bitrix24 user.get: {answer.total or 'many'} users for one e-mail; the webhook "
            "cannot filter by e-mail (give it the user_basic scope)"
        )
    wanted = email.strip().casefold()
    users = [_user(item) for item in php_map(answer.result).values() if isinstance(item, dict)]
    return [u for u in users if u.active and u.email.strip().casefold() == wanted]


def owner_is_admin(profile: Any) -> bool:
    """Whether `profile` over the webhook names a portal administrator (bitrix24.md §13: only
    then does `user.get` honour ADMIN_MODE and find extranet users outside the owner's groups)."""
    admin = profile.get("ADMIN") if isinstance(profile, dict) else None
    return admin is True or str(admin).lower() in ("true", "y", "1")


def _user(item: dict[str, Any]) -> BitrixUser:
    active = item.get("ACTIVE")
    return BitrixUser(
        id=int(str(item.get("ID"))),
        email=str(item.get("EMAIL") or ""),
        active=active is True or str(active).upper() in ("Y", "1", "TRUE"),
    )
