"""The chat side of the service, behind one small interface.

`Messenger` is all the rest of the service needs from Bitrix24: send and edit the bot's
messages, find people by e-mail, and tell whose an access token is. `ImbotMessenger` implements
it with the `imbot.*` methods (superseded by `imbot.v2`, which can be added beside it as another
class, as can a sandbox's fake).
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bot.batching.shared import SharedCalls
from bot.client import BitrixClient
from bot.texts.visible import visible_keyboard, visible_text
from bot.users import BitrixUser
from outbound.errors import DeliveryError, RejectedError, TransientError

log = logging.getLogger(__name__)
# What re-registers the settings' own portal's bot.
REGISTER = "python -m bot.register"


def register_step(portal: str | None = None, api: str = "v1") -> str:
    """What the operator runs to bring a portal's bot back: `bot.register` for the settings'
    own portal (None), `portal add` again for an added one (its name, a webhook, its API: a
    portal added again on another API is refused)."""
    if portal is None:
        return REGISTER
    on_v2 = " --api v2" if api == "v2" else ""
    return f"python -m bridge.admin portal add {portal} <its webhook URL>{on_v2}"


@dataclass(frozen=True)
class ChatMessage:
    """A bot message: text with BB codes and, optionally, a keyboard."""

    text: str
    keyboard: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        # Every message the bot posts is built here: none carries hidden or reversing marks.
        object.__setattr__(self, "text", visible_text(self.text))
        object.__setattr__(self, "keyboard", visible_keyboard(self.keyboard))


class Messenger(Protocol):
    """Sends and edits the bot's messages, and knows the portal's people.

    Calls made at about the same time share `batch` requests (`bot.batching.shared`), each
    with its own outcome: a caller never learns of another's failure.
    """

    async def send(self, dialog_id: str, message: ChatMessage) -> int:
        """Post `message` to a dialog and return its message id."""
        ...

    async def edit(self, message_id: int, message: ChatMessage) -> None:
        """Replace a message's text; a message without keyboard loses its buttons."""
        ...

    async def send_many(
        self, messages: Mapping[str, tuple[str, ChatMessage]]
    ) -> dict[str, int | DeliveryError]:
        """Post several messages (key → dialog, message) in as few requests as possible;
        each gets its own outcome (a message id or the error)."""
        ...

    async def find_users_by_emails(
        self, emails: Mapping[str, str]
    ) -> dict[str, list[BitrixUser] | DeliveryError]:
        """The active users with each e-mail (key → e-mail), ignoring case; each key gets its
        own outcome (the users or the error)."""
        ...

    async def token_owner(self, access_token: str) -> int | None:
        """Whose OAuth access token this is; None when the portal does not accept it."""
        ...

    def known_bot_id(self) -> int | None:
        """The bot's id when known without asking Bitrix24 (configured, or found already)."""
        ...

    async def bot_listed(self) -> bool:
        """Whether the portal still lists our bot (asked now, never from memory)."""
        ...


class BotMessenger(ABC):
    """What the v1 and the imbot.v2 messengers share: people found by e-mail in shared `batch`
    requests, and the bot's id, configured or found by its code (`_by_code`, each API its own
    way) once for all the calls that wait for it."""

    def __init__(
        self,
        client: BitrixClient,
        shared: SharedCalls,
        bot_code: str,
        bot_id: int | None,
        repair: str,
    ) -> None:
        self._client = client
        self._shared = shared
        self._bot_code = bot_code
        self._bot_id = bot_id
        # What brings this portal's bot back (`register_step`), said while no bot has our code.
        self._repair = repair
        self._looking_up = asyncio.Lock()

    def known_bot_id(self) -> int | None:
        """The bot's id when known without asking Bitrix24 (configured, or found already)."""
        return self._bot_id

    async def find_users_by_emails(
        self, emails: Mapping[str, str]
    ) -> dict[str, list[BitrixUser] | DeliveryError]:
        """The active users with each e-mail, in as few requests as possible."""
        return await self._shared.find_users_by_emails(emails)

    async def bot_id(self) -> int:
        """The bot's id: configured, or found by its code (once for the calls that wait)."""
        if self._bot_id is None:
            async with self._looking_up:
                if self._bot_id is None:
                    self._bot_id = await self._by_code()
        return self._bot_id

    @abstractmethod
    async def _by_code(self) -> int:
        """The id of the portal's bot with our code; TransientError while none has it."""


class ImbotMessenger(BotMessenger):
    """`Messenger` over `imbot.message.add` / `imbot.message.update` (v1).

    The bot's id is configured or found by its CODE. When Bitrix24 says the id is gone (the
    bot was deleted and registered anew), the id is looked up again; while no bot has the
    code, sending raises `TransientError`, so invitations wait instead of failing.
    """

    def __init__(
        self,
        client: BitrixClient,
        bot_code: str,
        bot_id: int | None = None,
        *,
        repair: str = REGISTER,
    ) -> None:
        super().__init__(client, SharedCalls(client), bot_code, bot_id, repair)

    async def token_owner(self, access_token: str) -> int | None:
        """Whose OAuth access token this is, asked of our own portal."""
        return await self._client.token_owner(access_token)

    async def bot_listed(self) -> bool:
        """Whether imbot.bot.list still shows a bot with our CODE."""
        return await self._client.bot_id_by_code(self._bot_code) is not None

    async def _by_code(self) -> int:
        found = await self._client.bot_id_by_code(self._bot_code)
        if found is None:
            code = self._bot_code
            raise TransientError(f"no Bitrix24 bot with code {code!r}: run {self._repair}")
        return found

    async def _found_again(self, gone: int) -> bool:
        """After BOT_ID_ERROR: look the bot up by CODE (once for the calls that failed
        together); True when it has a new id."""
        async with self._looking_up:
            if self._bot_id is not None and self._bot_id != gone:
                return True
            self._bot_id = None
            try:
                self._bot_id = found = await self._by_code()
            except TransientError:
                return False
        if found == gone:
            return False
        log.warning("bitrix.bot_found_again old_id=%s new_id=%s", gone, found)
        return True

    async def send(self, dialog_id: str, message: ChatMessage) -> int:
        """Post `message` to a dialog and return its message id."""
        result = await self._call(
            "imbot.message.add", lambda bot: self._add(bot, dialog_id, message)
        )
        return _message_id(result)

    async def edit(self, message_id: int, message: ChatMessage) -> None:
        """Replace a message's text; a message without keyboard loses its buttons."""
        await self._call("imbot.message.update", lambda bot: self._update(bot, message_id, message))

    async def _call(self, method: str, params: Callable[[int], dict[str, Any]]) -> Any:
        bot = await self.bot_id()
        try:
            return await self._shared.call(method, params(bot))
        except RejectedError as exc:
            if not bot_gone(exc):
                raise
            if not await self._found_again(bot):
                raise _waiting(self._bot_code, self._repair) from None
            return await self._shared.call(method, params(await self.bot_id()))

    async def send_many(
        self, messages: Mapping[str, tuple[str, ChatMessage]]
    ) -> dict[str, int | DeliveryError]:
        """Post several messages, sharing requests; each gets its own outcome."""
        return await send_each(self, messages)

    def _add(self, bot: int, dialog_id: str, message: ChatMessage) -> dict[str, Any]:
        params: dict[str, Any] = {
            "BOT_ID": bot,
            "CLIENT_ID": self._client.client_id,
            "DIALOG_ID": dialog_id,
            "MESSAGE": message.text,
        }
        if message.keyboard is not None:
            params["KEYBOARD"] = message.keyboard
        return params

    def _update(self, bot: int, message_id: int, message: ChatMessage) -> dict[str, Any]:
        return {
            "BOT_ID": bot,
            "CLIENT_ID": self._client.client_id,
            "MESSAGE_ID": message_id,
            "MESSAGE": message.text,
            # "N" removes the keyboard (bitrix24.md §3).
            "KEYBOARD": message.keyboard if message.keyboard is not None else "N",
        }


async def send_each(
    messenger: Messenger, messages: Mapping[str, tuple[str, ChatMessage]]
) -> dict[str, int | DeliveryError]:
    """Send every message at once (so they share requests); each its message id or error."""

    async def one(dialog_id: str, message: ChatMessage) -> int | DeliveryError:
        try:
            return await messenger.send(dialog_id, message)
        except DeliveryError as exc:
            return exc

    sent = await asyncio.gather(*(one(*pair) for pair in messages.values()))
    return dict(zip(messages, sent, strict=True))


def bot_gone(error: DeliveryError) -> bool:
    """Whether Bitrix24 says the bot id we used does not exist (BOT_ID_ERROR)."""
    return isinstance(error, RejectedError) and error.code == "BOT_ID_ERROR"


def _waiting(code: str, repair: str) -> TransientError:
    return TransientError(f"the Bitrix24 bot {code!r} is gone: run {repair}; invitations wait")


def _message_id(answer: Any) -> int:
    if not str(answer).isdecimal():
        raise RejectedError("Bitrix24 imbot.message.add: no message id in the answer")
    return int(str(answer))
