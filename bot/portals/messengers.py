"""One `Messenger` over several portals: each message goes through the portal its ids name.

`ScopedMessenger` is one portal's messenger speaking scoped ids (`bot.portals.ids`): it makes
them local before a request and scopes what Bitrix24 answers, and refuses an id of another
portal. `PortalMessengers` holds one per portal, built on first use by a loader (the portal's
credentials live with the caller), and picks one by the ids it is given; what names no id
(finding people, whose token) is asked of one portal named by the caller (`portal(n)`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping

from bot.messenger import ChatMessage, Messenger
from bot.portals.ids import (
    ForeignIdError,
    dialog_portal,
    local_dialog,
    local_id,
    portal_of,
    scoped,
)
from bot.users import BitrixUser
from outbound.errors import DeliveryError, RejectedError

# A portal's messenger is built again after this long, so a portal added again (a new webhook)
# or removed is seen by a running service.
REFRESH_SECONDS = 30.0

Loader = Callable[[int], Awaitable[Messenger | None]]
SentMany = dict[str, int | DeliveryError]


class ScopedMessenger:
    """One portal's `Messenger`, taking and giving ids scoped by that portal."""

    def __init__(self, inner: Messenger, portal: int) -> None:
        self._inner = inner
        self.portal = portal

    async def send(self, dialog_id: str, message: ChatMessage) -> int:
        """Post to a dialog of this portal; the message id comes back scoped."""
        sent = await self._inner.send(self._dialog(dialog_id), message)
        return scoped(self.portal, sent)

    async def edit(self, message_id: int, message: ChatMessage) -> None:
        """Replace a message of this portal."""
        await self._inner.edit(self._id(message_id), message)

    async def send_many(
        self, messages: Mapping[str, tuple[str, ChatMessage]]
    ) -> dict[str, int | DeliveryError]:
        """Post several messages of this portal; message ids come back scoped."""
        try:
            local = {k: (self._dialog(d), m) for k, (d, m) in messages.items()}
        except RejectedError as exc:
            return dict.fromkeys(messages, exc)
        sent = await self._inner.send_many(local)
        return {
            k: v if isinstance(v, DeliveryError) else scoped(self.portal, v)
            for k, v in sent.items()
        }

    async def find_users_by_emails(
        self, emails: Mapping[str, str]
    ) -> dict[str, list[BitrixUser] | DeliveryError]:
        """This portal's active users with each e-mail, their ids scoped."""
        found = await self._inner.find_users_by_emails(emails)
        return {
            key: users
            if isinstance(users, DeliveryError)
            else [dataclasses.replace(u, id=scoped(self.portal, u.id)) for u in users]
            for key, users in found.items()
        }

    async def token_owner(self, access_token: str) -> int | None:
        """Whose token this is on this portal, scoped."""
        owner = await self._inner.token_owner(access_token)
        return None if owner is None else scoped(self.portal, owner)

    def known_bot_id(self) -> int | None:
        """The bot's id on this portal (local: events name it so)."""
        return self._inner.known_bot_id()

    async def bot_listed(self) -> bool:
        """Whether this portal still lists the bot."""
        return await self._inner.bot_listed()

    def _dialog(self, dialog_id: str) -> str:
        try:
            return local_dialog(dialog_id, self.portal)
        except ForeignIdError as exc:
            raise RejectedError(str(exc)) from None

    def _id(self, key: int) -> int:
        try:
            return local_id(key, self.portal)
        except ForeignIdError as exc:
            raise RejectedError(str(exc)) from None


class PortalMessengers:
    """Every portal's messenger behind the one `Messenger`, chosen by the ids given."""

    def __init__(
        self, home: Messenger, loader: Loader, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """`home`: the settings' own portal (number 0), always there; `loader`: another portal's
        messenger by its number, None when it is removed or unknown."""
        self._home = ScopedMessenger(home, 0)
        self._loader = loader
        self._clock = clock
        self._built: dict[int, tuple[float, Messenger | None]] = {}

    async def portal(self, number: int) -> Messenger:
        """The messenger of portal `number`; RejectedError when no such portal is active."""
        if number == 0:
            return self._home
        now = self._clock()
        built = self._built.get(number)
        if built is None or now - built[0] > REFRESH_SECONDS:
            inner = await self._loader(number)
            built = (now, None if inner is None else ScopedMessenger(inner, number))
            self._built[number] = built
        if built[1] is None:
            raise RejectedError(f"portal {number} is not connected (removed, or never added)")
        return built[1]

    async def send(self, dialog_id: str, message: ChatMessage) -> int:
        """Post through the portal of the dialog."""
        return await (await self.portal(dialog_portal(dialog_id))).send(dialog_id, message)

    async def edit(self, message_id: int, message: ChatMessage) -> None:
        """Edit through the portal of the message."""
        await (await self.portal(portal_of(message_id))).edit(message_id, message)

    async def send_many(
        self, messages: Mapping[str, tuple[str, ChatMessage]]
    ) -> dict[str, int | DeliveryError]:
        """Post each message through the portal of its dialog, one batch per portal, the
        portals side by side (one portal's limit or trouble never delays another's)."""
        per_portal: dict[int, dict[str, tuple[str, ChatMessage]]] = {}
        for key, (dialog, message) in messages.items():
            per_portal.setdefault(dialog_portal(dialog), {})[key] = (dialog, message)

        async def through(number: int, some: Mapping[str, tuple[str, ChatMessage]]) -> SentMany:
            try:
                return await (await self.portal(number)).send_many(some)
            except DeliveryError as exc:
                return dict.fromkeys(some, exc)

        outcomes: SentMany = {}
        for sent in await asyncio.gather(*(through(n, s) for n, s in per_portal.items())):
            outcomes.update(sent)
        return outcomes

    async def find_users_by_emails(
        self, emails: Mapping[str, str]
    ) -> dict[str, list[BitrixUser] | DeliveryError]:
        """The default portal's users (others: `portal(n).find_users_by_emails`)."""
        return await self._home.find_users_by_emails(emails)

    async def token_owner(self, access_token: str) -> int | None:
        """Whose token this is on the default portal (others: `portal(n).token_owner`)."""
        return await self._home.token_owner(access_token)

    def known_bot_id(self) -> int | None:
        """The default portal's bot id, when known without asking."""
        return self._home.known_bot_id()

    async def bot_listed(self) -> bool:
        """Whether the default portal still lists the bot."""
        return await self._home.bot_listed()


async def messenger_of(messenger: Messenger, portal: int) -> Messenger:
    """The messenger of one portal: picked from `PortalMessengers`, or the one messenger when
    there is one portal (number 0)."""
    if isinstance(messenger, PortalMessengers):
        return await messenger.portal(portal)
    if portal != 0:
        raise RejectedError(f"portal {portal} is not connected")
    return messenger
