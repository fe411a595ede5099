"""How the bot talks in chat, behind one small interface.

`ChatTransport` is all the rating workflow needs. `ImbotTransport` implements it with the
`imbot.*` methods (superseded by `imbot.v2`, which can be added beside it as another class).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bot.client import BitrixClient
from bot.errors import DeliveryError, RejectedError


@dataclass(frozen=True)
class ChatMessage:
    """A bot message: text with BB codes and, optionally, a keyboard."""

    text: str
    keyboard: dict[str, Any] | None = None


class ChatTransport(Protocol):
    """Sends and edits the bot's messages."""

    async def send(self, dialog_id: str, message: ChatMessage) -> int:
        """Post `message` to a dialog and return its message id."""
        ...

    async def edit(self, message_id: int, message: ChatMessage) -> None:
        """Replace a message's text; a message without keyboard loses its buttons."""
        ...

    async def send_many(
        self, messages: Mapping[str, tuple[str, ChatMessage]]
    ) -> dict[str, int | DeliveryError]:
        """Post several messages (key → dialog, message) in as few requests as possible."""
        ...


class ImbotTransport:
    """`ChatTransport` over `imbot.message.add` / `imbot.message.update` (v1)."""

    def __init__(self, client: BitrixClient, bot_code: str, bot_id: int | None = None) -> None:
        self._client = client
        self._bot_code = bot_code
        self._bot_id = bot_id

    async def bot_id(self) -> int:
        """The bot's id: configured, or found once by its CODE."""
        if self._bot_id is None:
            found = await self._client.bot_id_by_code(self._bot_code)
            if found is None:
                raise RejectedError(
                    f"no Bitrix24 bot with code {self._bot_code!r}: run python -m bot.register"
                )
            self._bot_id = found
        return self._bot_id

    async def send(self, dialog_id: str, message: ChatMessage) -> int:
        """Post `message` to a dialog and return its message id."""
        result = await self._client.call("imbot.message.add", await self._add(dialog_id, message))
        return int(result)

    async def send_many(
        self, messages: Mapping[str, tuple[str, ChatMessage]]
    ) -> dict[str, int | DeliveryError]:
        """Post several messages, in `batch` requests when there is more than one."""
        if len(messages) == 1:
            ((key, (dialog_id, message)),) = messages.items()
            return {key: await self.send(dialog_id, message)}
        calls = {
            key: ("imbot.message.add", await self._add(dialog_id, message))
            for key, (dialog_id, message) in messages.items()
        }
        answers = await self._client.batch(calls)
        return {
            key: answer if isinstance(answer, DeliveryError) else _message_id(answer)
            for key, answer in answers.items()
        }

    async def _add(self, dialog_id: str, message: ChatMessage) -> dict[str, Any]:
        params: dict[str, Any] = {
            "BOT_ID": await self.bot_id(),
            "CLIENT_ID": self._client.client_id,
            "DIALOG_ID": dialog_id,
            "MESSAGE": message.text,
        }
        if message.keyboard is not None:
            params["KEYBOARD"] = message.keyboard
        return params

    async def edit(self, message_id: int, message: ChatMessage) -> None:
        """Replace a message's text; a message without keyboard loses its buttons."""
        await self._client.call(
            "imbot.message.update",
            {
                "BOT_ID": await self.bot_id(),
                "CLIENT_ID": self._client.client_id,
                "MESSAGE_ID": message_id,
                "MESSAGE": message.text,
                # "N" removes the keyboard (bitrix24.md §3).
                "KEYBOARD": message.keyboard if message.keyboard is not None else "N",
            },
        )


def _message_id(answer: Any) -> int | DeliveryError:
    try:
        return int(answer)
    except (TypeError, ValueError):
        return RejectedError("Bitrix24 imbot.message.add: no message id in the answer")
