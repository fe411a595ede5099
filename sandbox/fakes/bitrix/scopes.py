"""The webhook's scopes: `scope` lists them, and a method outside them is refused.

A Bitrix24 incoming webhook is created with a set of scopes; `scope` answers that set as a
list of names (with `full=true`, every scope the portal has), and a method whose scope the
webhook lacks answers 403 `insufficient_scope` (bitrix24.md §7). `profile` and `batch` need
none; `user.get` works with `user` or `user_basic` (§6).
"""

from __future__ import annotations

from typing import Any

from sandbox.fakes.bitrix.php import Answer, BitrixError, php_truthy

PORTAL_SCOPES = ("bizproc", "crm", "im", "imbot", "imopenlines", "task", "user", "user_basic")
DEFAULT_SCOPES = ("imbot", "im", "user")
# The scopes any one of which lets a method run (methods not listed need none).
_NEEDS = {"user.get": frozenset({"user", "user_basic"})}


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
