"""Group chats: who is in them, whether a bot may post there, and what a click in one carries.

A dialog is a user's id (a private chat) or `chat<ID>` (bitrix24.md §3, DIALOG_ID). A bot
posts to a group chat only as a member: imbot.v2's send answers `ACCESS_DENIED` "bot not in
chat" (bitrix24-v2.md §2); v1's pages list no error for it, and the fake answers v1 the same
way, the harsher reading (a portal that let a stranger bot post would only be kinder). A chat
that does not exist is refused alike. Chats are seeded: `{"chats": [{"ID": 1157, "TITLE":
"Поддержка", "USERS": [52, 53], "BOT_CODES": ["okdesk_rating"]}]}` (bots by code, as their ids
are given at registration).

A click in a group chat is the group variant of ONIMCOMMANDADD (§5): `DIALOG_ID=chat<ID>`,
`CHAT_TYPE=C`, `CHAT_ID`, `CHAT_TITLE`; only a member sees the message, so only a member's
press raises it.
"""

from __future__ import annotations

from typing import Any

from sandbox.fakes.bitrix.php import BitrixError, as_int, as_str

GROUP = "C"


def chat_number(dialog_id: str) -> int | None:
    """The chat's id of a group dialog (`chat1157` → 1157); None for a person's dialog."""
    text = dialog_id.strip()
    return as_int(text[4:]) if text.startswith("chat") else None


class ChatMethods:
    """Group chats, mixed into `FakeBitrix`, which creates `chats`."""

    chats: dict[int, dict[str, Any]]

    def seed_chats(self, chats: list[Any]) -> None:
        """Add or replace chats given as JSON objects (`ID`, `TITLE`, `USERS`, `BOT_CODES`)."""
        for chat in chats:
            chat_id = as_int(chat.get("ID")) if isinstance(chat, dict) else None
            if chat_id is None:
                continue
            users = [as_int(u) for u in chat.get("USERS", [])]
            self.chats[chat_id] = {
                "ID": chat_id,
                "TITLE": as_str(chat.get("TITLE")) or f"chat{chat_id}",
                "USERS": [u for u in users if u is not None],
                "BOT_CODES": [as_str(code) for code in chat.get("BOT_CODES", [])],
            }

    def check_may_post(self, bot: dict[str, Any], dialog_id: str) -> None:
        """Refuse a bot's message to a group chat it is not in (or that does not exist)."""
        number = chat_number(dialog_id)
        if number is None and not dialog_id.startswith("chat"):
            return
        chat = self.chats.get(number or 0)
        if chat is None or bot.get("CODE") not in chat["BOT_CODES"]:
            raise BitrixError("ACCESS_DENIED", "Bot is not a member of the chat")

    def sees(self, dialog_id: str, user_id: int) -> bool:
        """Whether a person sees a bot message in this dialog (a group chat: a member)."""
        number = chat_number(dialog_id)
        if number is None:
            return True
        chat = self.chats.get(number)
        return chat is not None and user_id in chat["USERS"]

    def click_place(self, dialog_id: str, user_id: int, bot_id: int) -> dict[str, Any]:
        """Where a click happened, as `data[PARAMS]` of ONIMCOMMANDADD names it."""
        number = chat_number(dialog_id)
        if number is None:
            place: dict[str, Any] = {"DIALOG_ID": user_id, "MESSAGE_TYPE": "P", "CHAT_TYPE": "P"}
            place.update(FROM_USER_ID=user_id, TO_USER_ID=bot_id, TO_CHAT_ID=1000 + user_id)
            return place
        chat = self.chats[number]
        place = {"DIALOG_ID": f"chat{number}", "MESSAGE_TYPE": GROUP, "CHAT_TYPE": GROUP}
        place.update(FROM_USER_ID=user_id, TO_CHAT_ID=number, CHAT_ID=number)
        place.update(CHAT_TITLE=chat["TITLE"], CHAT_USER_COUNT=len(chat["USERS"]))
        return place

    def chat_object(self, dialog_id: str) -> dict[str, Any] | None:
        """A group chat as imbot.v2's events describe it (None for a person's dialog)."""
        number = chat_number(dialog_id)
        chat = self.chats.get(number or 0)
        if chat is None:
            return None
        return {
            "id": number,
            "dialogId": f"chat{number}",
            "type": "chat",
            "name": chat["TITLE"],
            "entityType": "",
            "owner": chat["USERS"][0] if chat["USERS"] else 0,
            "avatar": "",
            "color": "#ab7761",
        }
