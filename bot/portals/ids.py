"""Bitrix24 ids scoped by portal: user 27 of portal A and user 27 of portal B are two people.

User, chat and message ids are small integers local to one portal (bitrix24-portals.md §3).
The rest of the service stores them as one number, `portal * SPAN + id`, so every query that
matched a user id matches that portal's user only, and the default portal (number 0) keeps
the ids it stored before there were several. Ids are scoped when an event comes in and when
Bitrix24 answers, and made local again only when a request goes to that portal.
"""

from __future__ import annotations

import dataclasses

from bot.events import BotJoined, ChatReply, Event, RatingClick

# Far above any id a portal hands out (Bitrix24 keeps them in 32-bit columns), and with room
# for a million portals below 2**63.
SPAN = 1 << 40
CHAT_PREFIX = "chat"


class ForeignIdError(ValueError):
    """An id out of range for a portal, or an id of another portal than the one asked."""


def scoped(portal: int, local: int) -> int:
    """The stored form of a portal's id."""
    if not 0 <= local < SPAN:
        raise ForeignIdError(f"id {local} is out of range for a Bitrix24 id")
    return portal * SPAN + local


def portal_of(key: int) -> int:
    """Which portal a stored id belongs to."""
    return key // SPAN


def same_portal(stored: int | None, other: int) -> bool:
    """Whether two stored ids are of one portal (an id not known yet is of any)."""
    return stored is None or portal_of(stored) == portal_of(other)


def local_id(key: int, portal: int) -> int:
    """The id as `portal` knows it; ForeignIdError when it is another portal's."""
    if portal_of(key) != portal:
        raise ForeignIdError(f"an id of portal {portal_of(key)} sent to portal {portal}")
    return key % SPAN


def scoped_dialog(portal: int, dialog: str) -> str:
    """A DIALOG_ID as stored: a person's id (`27`) or a chat (`chat15`), scoped."""
    if dialog.isdecimal():
        return str(scoped(portal, int(dialog)))
    head, number = dialog[: len(CHAT_PREFIX)], dialog[len(CHAT_PREFIX) :]
    if head == CHAT_PREFIX and number.isdecimal():
        return CHAT_PREFIX + str(scoped(portal, int(number)))
    return dialog


def dialog_portal(dialog: str) -> int:
    """Which portal a stored DIALOG_ID belongs to."""
    number = dialog.removeprefix(CHAT_PREFIX)
    return portal_of(int(number)) if number.isdecimal() else 0


def local_dialog(dialog: str, portal: int) -> str:
    """A stored DIALOG_ID as `portal` knows it."""
    if dialog.isdecimal():
        return str(local_id(int(dialog), portal))
    number = dialog.removeprefix(CHAT_PREFIX)
    if number.isdecimal() and number != dialog:
        return CHAT_PREFIX + str(local_id(int(number), portal))
    return dialog


def scoped_event(event: Event, portal: int) -> Event:
    """An event of `portal` with its person, dialog, message and replay key scoped (the bot's
    id stays local: it is compared with the portal's own bot, never stored)."""
    if portal == 0 or not isinstance(event, RatingClick | ChatReply | BotJoined):
        return event
    user = None if event.user_id is None else scoped(portal, event.user_id)
    dialog = scoped_dialog(portal, event.dialog_id)
    if isinstance(event, BotJoined):
        return dataclasses.replace(event, user_id=user, dialog_id=dialog)
    assert user is not None
    message = None if event.message_id is None else scoped(portal, event.message_id)
    if isinstance(event, RatingClick):
        replay = None if event.replay_key is None else f"portal:{portal}:{event.replay_key}"
        return dataclasses.replace(
            event, user_id=user, dialog_id=dialog, message_id=message, replay_key=replay
        )
    return dataclasses.replace(event, user_id=user, dialog_id=dialog, message_id=message)
