"""The webhook's scopes: `scope` lists them, and a method outside them is refused.

A Bitrix24 incoming webhook is created with a set of scopes; `scope` answers that set as a
list of names (with `full=true`, every scope the portal has), and a method whose scope the
webhook lacks answers 403 `insufficient_scope` (bitrix24.md §7). `profile` and `batch` need
none; `user.get` works with `user`, `user_basic` or `user_brief` (§6), and a filter key the
scope may not read is silently dropped: `user_brief` has no contact data, so a `user_brief`-only
webhook's EMAIL filter is ignored and user.get answers everyone (USERAPI prepareUserFilter).
"""

from __future__ import annotations

from typing import Any

from sandbox.fakes.bitrix.php import Answer, BitrixError, php_truthy

PORTAL_SCOPES: tuple[str, ...] = ("bizproc", "crm", "im", "imbot", "imopenlines", "task")
PORTAL_SCOPES += ("user", "user_basic", "user_brief")
DEFAULT_SCOPES = ("imbot", "im", "user")
# The scopes any one of which lets a method run (methods not listed need none).
_NEEDS = {"user.get": frozenset({"user", "user_basic", "user_brief"})}
# Filter keys that need contact data (`user_basic` or `user`).
_CONTACT_KEYS = frozenset({"EMAIL", "PERSONAL_PHONE", "PERSONAL_MOBILE", "WORK_PHONE"})


def needed_scopes(method: str) -> frozenset[str] | None:
    """The scopes that allow `method` (any one of them), or None when it needs none."""
    if method.startswith("imbot."):
        return frozenset({"imbot"})
    return _NEEDS.get(method)


class ScopeMethods:
    """`scope` and the scope check, mixed into `FakeBitrix`, which sets `scopes`."""

    scopes: list[str]

    def _scope(self, params: dict[str, Any]) -> Answer:
        """scope: the webhook's scopes, or with `full=true` all the portal's."""
        if php_truthy(params.get("FULL")):
            return Answer(list(PORTAL_SCOPES))
        return Answer(list(self.scopes))

    def _check_scope(self, method: str) -> None:
        """Refuse a method whose scope the webhook was not given."""
        needed = needed_scopes(method)
        if needed is not None and not needed & set(self.scopes):
            raise BitrixError("insufficient_scope", "The request requires higher privileges")

    def _scoped_filter(self, flt: dict[str, Any]) -> dict[str, Any]:
        """A user.get filter without the keys the webhook's scopes may not use (dropped
        silently, as Bitrix24 does)."""
        if {"user", "user_basic"} & set(self.scopes):
            return flt
        return {k: v for k, v in flt.items() if k.lstrip("=%!<>@") not in _CONTACT_KEYS}
