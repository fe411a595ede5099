"""The fake portal's group chats, on v1 and imbot.v2: a bot posts to `chat<ID>` only as a member
(ACCESS_DENIED otherwise, or for a chat that does not exist), and a member's press of a button
there is the group variant of the click event, which our parsers read as a click in that chat;
a stranger's press raises nothing."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.testclient import TestClient

from bot.events import RatingClick, parse_event
from bot.v2.events_v2 import fetched_events
from sandbox.fakes.bitrix import FakeBitrix
from sandbox.fakes.bitrix_v2 import FakeBitrixV2

HOOK = "/rest/1/hooktoken/"
HANDLER = "http://127.0.0.1:1/api/v1/bitrix/events?token=t"
TOKEN = "v2-bot-token-0123456789"
TAKE = [{"TEXT": "Беру", "COMMAND": "rate", "COMMAND_PARAMS": "alert:5:take", "BLOCK": "Y"}]
CHAT = {"ID": 1157, "TITLE": "Поддержка", "USERS": [52, 53], "BOT_CODES": ["okdesk_rating"]}
PEOPLE = [
    {"ID": "52", "NAME": "Мария", "LAST_NAME": "Лебедева", "ACTIVE": True},
    {"ID": "27", "NAME": "Иван", "LAST_NAME": "Петров", "ACTIVE": True},
]


def call(fake: FakeBitrix, method: str, body: dict[str, Any]) -> httpx.Response:
    response: httpx.Response = TestClient(fake.app).post(HOOK + method, json=body)
    return response


def v1_portal(*chats: dict[str, Any]) -> tuple[FakeBitrix, int]:
    fake = FakeBitrix(HOOK)
    fake.control_seed({"users": PEOPLE, "chats": list(chats)})
    bot = {"CODE": "okdesk_rating", "EVENT_HANDLER": HANDLER, "CLIENT_ID": "app"}
    bot_id = call(fake, "imbot.register", {**bot, "PROPERTIES": {"NAME": "Оценка"}}).json()
    command = {"BOT_ID": bot_id["result"], "COMMAND": "rate", "EVENT_COMMAND_ADD": HANDLER}
    call(fake, "imbot.command.register", {**command, "CLIENT_ID": "app", "LANG": [{"X": 1}]})
    return fake, int(bot_id["result"])


def v1_post(fake: FakeBitrix, bot_id: int, dialog: str) -> httpx.Response:
    body = {"BOT_ID": bot_id, "CLIENT_ID": "app", "DIALOG_ID": dialog, "MESSAGE": "Низкая оценка"}
    return call(fake, "imbot.message.add", {**body, "KEYBOARD": {"BUTTONS": TAKE}})


def test_v1_posts_to_a_group_chat_only_as_a_member() -> None:
    fake, bot_id = v1_portal(CHAT, {**CHAT, "ID": 1158, "BOT_CODES": []})

    assert v1_post(fake, bot_id, "chat1157").status_code == 200
    for stranger in ("chat1158", "chat9999"):
        refused = v1_post(fake, bot_id, stranger)
        assert (refused.status_code, refused.json()["error"]) == (403, "ACCESS_DENIED")
    assert v1_post(fake, bot_id, "27").status_code == 200  # a person's dialog, as before


def test_v1_a_members_press_in_the_chat_is_a_group_click_and_a_strangers_is_nothing() -> None:
    fake, bot_id = v1_portal(CHAT)
    message_id = v1_post(fake, bot_id, "chat1157").json()["result"]

    body = fake.click(message_id, 52)
    assert body is not None
    (click,) = parse_event(body).events
    assert isinstance(click, RatingClick)
    assert (click.dialog_id, click.chat_type, click.user_id) == ("chat1157", "C", 52)
    assert (click.params, click.user_name, click.message_id) == (
        "alert:5:take",
        "Мария Лебедева",
        message_id,
    )
    assert fake.click(message_id, 27) is None  # Иван is not in the chat


def v2_portal() -> tuple[FakeBitrixV2, int]:
    fake = FakeBitrixV2(HOOK, v2_rate_limit=False)
    fake.control_seed({"users": PEOPLE, "chats": [{**CHAT, "BOT_CODES": ["rating_v2"]}]})
    fields = {"code": "rating_v2", "botToken": TOKEN, "properties": {"name": "Rating"}}
    bot_id = call(fake, "imbot.v2.Bot.register", {"fields": fields}).json()["result"]["bot"]["id"]
    command = {"command": "rate", "hidden": True}
    call(fake, "imbot.v2.Command.register", {"botId": bot_id, "botToken": TOKEN, "fields": command})
    return fake, bot_id


def v2_post(fake: FakeBitrixV2, bot_id: int, dialog: str) -> httpx.Response:
    fields = {"message": "Низкая оценка", "keyboard": {"BOT_ID": bot_id, "BUTTONS": TAKE}}
    body = {"botId": bot_id, "botToken": TOKEN, "dialogId": dialog, "fields": fields}
    return call(fake, "imbot.v2.Chat.Message.send", body)


def test_v2_posts_to_a_group_chat_only_as_a_member_and_a_press_there_is_read_as_its() -> None:
    fake, bot_id = v2_portal()
    refused = v2_post(fake, bot_id, "chat9999")
    assert (refused.status_code, refused.json()["error"]) == (403, "ACCESS_DENIED")
    message_id = v2_post(fake, bot_id, "chat1157").json()["result"]["id"]

    fake.press(message_id, 27)  # not a member: nothing is queued
    fake.press(message_id, 52)

    answer = call(fake, "imbot.v2.Event.get", {"botId": bot_id, "botToken": TOKEN})
    (event,) = fetched_events(answer.json()["result"], bot_id)[0]
    (click,) = event.events
    assert isinstance(click, RatingClick)
    assert (click.dialog_id, click.user_id, click.user_name) == ("chat1157", 52, "Мария Лебедева")
    assert click.chat_type != "P" and click.params == "alert:5:take"
