"""Which dialog an event names (`DIALOG_ID`), checked before anything of it is kept.

A dialog is a user's id (a private chat: the counterpart, bitrix24.md §4), `chat` + digits (a
group chat) or `sg` + digits (a workgroup's chat); nothing else, and never longer than these
can be. In a private chat the counterpart is the person who wrote or clicked: an event whose
private `DIALOG_ID` names someone else is not one Bitrix24 sends.
"""

from __future__ import annotations

import re

from bot.texts.form import EventFormatError

# 18 digits is the longest id `bot.events` reads as a number.
_DIALOG = re.compile(r"(?:chat|sg)?[0-9]{1,18}")
MAX_LENGTH = 22


def checked_dialog(value: str, name: str) -> str:
    """The `DIALOG_ID` as sent, or an error naming the field when it is not a dialog's form."""
    if not value:
        return ""
    if len(value) > MAX_LENGTH or not _DIALOG.fullmatch(value):
        raise EventFormatError(
            f"the field {name} must be a user id or 'chat' followed by digits "
            f"(at most {MAX_LENGTH} characters)"
        )
    return value


def names_someone_else(dialog_id: str, user_id: int | None, chat_type: str) -> bool:
    """Whether a private chat's `DIALOG_ID` is not its sender (a user id is a private chat)."""
    private = chat_type == "P" or dialog_id.isdecimal()
    return private and bool(dialog_id) and user_id is not None and dialog_id != str(user_id)
