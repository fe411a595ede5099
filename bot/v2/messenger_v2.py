"""`Messenger` over imbot.v2 (Chatbots 2.0; bitrix24-v2.md §2-3): `Chat.Message.send` and
`Chat.Message.update` with the same keyboard as v1 (button keys stay UPPERCASE, `BOT_ID` beside
`BUTTONS` always), through the same `BitrixClient` (request budget, error tree, metrics).

What behaves as in v1:
- "remove the buttons": update with `keyboard: "N"`;
- "message too old to edit": the v2 pages document only ACCESS_DENIED for a message that is
  missing or not the bot's, and nothing for an old one, so ACCESS_DENIED, CANT_EDIT_MESSAGE
  and MESSAGE_NOT_FOUND on update all become `MessageNotEditableError` (the caller then sends a
  new message, as with v1). An invitation sent by the v1 bot lands here too after a switch;
- a deleted bot: BOT_NOT_FOUND, the id is looked up again by code (`Bot.get`); while none has
  it, sending raises `TransientError` and invitations wait.
Calls share `batch` requests as v1's do (`bot.batching.shared`), except the v2 chat methods:
whether the portal runs them inside a batch is not documented (their pages speak of JSON bodies
only), so each goes in a request of its own unless BITRIX_V2_IN_BATCH says the portal does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from bot.batching.shared import SharedCalls
from bot.client import BitrixClient
from bot.errors import MessageNotEditableError
from bot.messenger import REGISTER, BotMessenger, ChatMessage, send_each
from bot.v2.events_v2 import FetchedEvent, fetched_events
from bot.v2.vouchers import vouch, vouched_user
from outbound.errors import DeliveryError, RejectedError, TransientError

log = logging.getLogger(__name__)

SEND = "imbot.v2.Chat.Message.send"
UPDATE = "imbot.v2.Chat.Message.update"
NOT_EDITABLE = frozenset({"ACCESS_DENIED", "CANT_EDIT_MESSAGE", "MESSAGE_NOT_FOUND"})
BOT_NOT_FOUND = "BOT_NOT_FOUND"


class ImbotV2Messenger(BotMessenger):
    """Sends and edits the v2 bot's messages; people are found as with v1 (`user.get`)."""

    def __init__(
        self,
        client: BitrixClient,
        bot_code: str,
        bot_token: str,
        bot_id: int | None = None,
        *,
        in_batch: bool = False,
        repair: str = REGISTER,
    ) -> None:
        shared = SharedCalls(client, alone=() if in_batch else (SEND, UPDATE))
        super().__init__(client, shared, bot_code, bot_id, repair)
        self._token = bot_token

    async def token_owner(self, access_token: str) -> int | None:
        """Whose token this is: a fetched reply's voucher is read here, without a request;
        anything else is an OAuth token asked of our own portal."""
        vouched = vouched_user(self._token, access_token)
        if vouched is not None:
            return vouched
        return await self._client.token_owner(access_token)

    async def _by_code(self) -> int:
        """The bot found by its code with `imbot.v2.Bot.get`."""
        try:
            found = await self._client.call(
                "imbot.v2.Bot.get", {"code": self._bot_code, "botToken": self._token}
            )
        except RejectedError as exc:
            if exc.code != BOT_NOT_FOUND:
                raise
            raise _waiting(self._bot_code, self._repair) from None
        bot = found.get("bot") if isinstance(found, dict) else None
        if not isinstance(bot, dict) or not str(bot.get("id", "")).isdecimal():
            raise _waiting(self._bot_code, self._repair)
        return int(bot["id"])

    async def bot_listed(self) -> bool:
        """Whether the portal still has our v2 bot: `Bot.get` by code, the one-bot form of
        `Bot.list` (both scoped to our botToken); BOT_NOT_FOUND means it is gone."""
        try:
            await self._client.call(
                "imbot.v2.Bot.get", {"code": self._bot_code, "botToken": self._token}
            )
        except RejectedError as exc:
            if exc.code == BOT_NOT_FOUND:
                return False
            raise
        return True

    def forget_bot(self) -> None:
        """Bitrix24 says the bot is gone: look it up by code again next time."""
        self._bot_id = None

    def vouch(self, user_id: int) -> str:
        """A voucher that `user_id` wrote a message fetched from Bitrix24 (`bot.v2.vouchers`)."""
        return vouch(self._token, user_id)

    async def fetch_events(
        self, offset: int | None, limit: int = 100
    ) -> tuple[list[FetchedEvent], int | None, bool]:
        """imbot.v2.Event.get: acknowledge every event below `offset` and read what follows
        (the events, the offset that acknowledges them, whether more wait). BOT_NOT_FOUND is
        raised as it came: the bot was deleted."""
        bot = await self.bot_id()
        params: dict[str, Any] = {"botId": bot, "botToken": self._token, "limit": limit}
        if offset:
            params["offset"] = offset
        return fetched_events(await self._client.call("imbot.v2.Event.get", params), bot)

    async def send(self, dialog_id: str, message: ChatMessage) -> int:
        """Post `message` to a dialog and return its message id."""
        result = await self._call(SEND, lambda bot: self._send_params(bot, dialog_id, message))
        found = result.get("id") if isinstance(result, dict) else result
        if not str(found).isdecimal():
            raise RejectedError(f"Bitrix24 {SEND}: no message id in the answer")
        return int(str(found))

    async def edit(self, message_id: int, message: ChatMessage) -> None:
        """Replace a message's text; a message without keyboard loses its buttons."""
        try:
            await self._call(UPDATE, lambda bot: self._update_params(bot, message_id, message))
        except RejectedError as exc:
            if exc.code in NOT_EDITABLE:
                raise MessageNotEditableError(str(exc), code=exc.code) from None
            raise

    async def send_many(
        self, messages: Mapping[str, tuple[str, ChatMessage]]
    ) -> dict[str, int | DeliveryError]:
        """Post several messages at once; each gets its own outcome."""
        return await send_each(self, messages)

    async def _call(self, method: str, params: Callable[[int], dict[str, Any]]) -> Any:
        bot = await self.bot_id()
        try:
            return await self._shared.call(method, params(bot))
        except RejectedError as exc:
            if exc.code != BOT_NOT_FOUND:
                raise
            again = await self._found_again(bot)
            return await self._shared.call(method, params(again))

    async def _found_again(self, gone: int) -> int:
        """After BOT_NOT_FOUND: the bot's new id, looked up once for the calls that failed
        together; TransientError while no bot has our code."""
        async with self._looking_up:
            if self._bot_id is None or self._bot_id == gone:
                self._bot_id = None
                self._bot_id = again = await self._by_code()
                if again == gone:
                    raise _waiting(self._bot_code, self._repair)
                log.warning("bitrix.bot_found_again old_id=%s new_id=%s", gone, again)
            return self._bot_id

    def _send_params(self, bot: int, dialog_id: str, message: ChatMessage) -> dict[str, Any]:
        fields: dict[str, Any] = {"message": message.text}
        if message.keyboard is not None:
            fields["keyboard"] = keyboard_of(bot, message.keyboard)
        return {"botId": bot, "botToken": self._token, "dialogId": dialog_id, "fields": fields}

    def _update_params(self, bot: int, message_id: int, message: ChatMessage) -> dict[str, Any]:
        keyboard = "N" if message.keyboard is None else keyboard_of(bot, message.keyboard)
        fields = {"message": message.text, "keyboard": keyboard}
        return {"botId": bot, "botToken": self._token, "messageId": message_id, "fields": fields}


def keyboard_of(bot: int, keyboard: dict[str, Any]) -> dict[str, Any]:
    """v1's keyboard as v2 wants it: the same UPPERCASE buttons, `BOT_ID` beside `BUTTONS`
    (without it, COMMAND buttons "may not be routed", §3)."""
    return {**keyboard, "BOT_ID": bot}


def _waiting(code: str, repair: str) -> TransientError:
    return TransientError(
        f"no imbot.v2 bot with code {code!r}: run {repair}; invitations wait", code=BOT_NOT_FOUND
    )
