"""user.get: who is in the portal, 50 a page, as the webhook's user and scopes may see them.

A filter is FILTER or, without it, the top-level keys; ACTIVE is a flag and other plain keys
compare casefolded; extranet users stay hidden without ADMIN_MODE, which only a portal
administrator's webhook may use; an empty answer has no `total` (bitrix24.md §13).
"""

from __future__ import annotations

from typing import Any

from sandbox.fakes.bitrix.php import Answer, as_int, as_str, php_truthy, truthy, upper_keys
from sandbox.fakes.bitrix.scopes import ScopeMethods

PAGE_SIZE = 50
USER_GET_RESERVED = {"SORT", "ORDER", "SELECT", "START", "ADMIN_MODE", "IMAGE_RESIZE", "AUTH"}


def _user_matches(user: dict[str, Any], flt: dict[str, Any]) -> bool:
    """Apply a user.get filter: ACTIVE as a flag, other plain keys compared casefolded."""
    for key, wanted in flt.items():
        if key == "ACTIVE":
            if truthy(wanted) != truthy(user.get("ACTIVE")):
                return False
        elif key in user and as_str(user[key]).casefold() != as_str(wanted).casefold():
            return False
    return True


def _visible(user: dict[str, Any], admin_mode: bool) -> bool:
    """user.get hides extranet users outside the owner's groups (here: all) without ADMIN_MODE."""
    return admin_mode or as_str(user.get("USER_TYPE")).lower() != "extranet"


class UserMethods(ScopeMethods):
    """`user.get`, mixed into `FakeBitrix`, which sets `users` and `owner_is_admin`."""

    users: list[dict[str, Any]]
    owner_is_admin: bool

    def _user_get(self, params: dict[str, Any]) -> Answer:
        """user.get: filter users (FILTER, or top-level keys without it), 50 per page."""
        if "FILTER" in params:
            flt = upper_keys(params["FILTER"])
        else:
            flt = {k: v for k, v in params.items() if k not in USER_GET_RESERVED}
        flt = self._scoped_filter(flt)
        admin_mode = self.owner_is_admin and php_truthy(params.get("ADMIN_MODE"))
        found = [u for u in self.users if _user_matches(u, flt) and _visible(u, admin_mode)]
        found.sort(key=lambda u: as_int(u.get("ID")) or 0)
        start = max(as_int(params.get("START")) or 0, 0)
        more = start + PAGE_SIZE < len(found)
        # An empty answer has no `total` (bitrix24.md §13).
        total = len(found) or None
        return Answer(found[start : start + PAGE_SIZE], total, start + PAGE_SIZE if more else None)
