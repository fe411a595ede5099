"""What the fakes post when people act (an engineer closing a ticket, a person pressing a
button or writing to the bot) has the captured payloads' shape, key for key, and our parsers
read it as the vendors' own."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import pytest

from bot.events import ChatReply, RatingClick, parse_event
from bot.texts.messages import rating_keyboard
from bridge.okdesk.data import OkdeskWebhook
from harness.constants import FIXTURES
from sandbox.fakes.bitrix import FakeBitrix
from sandbox.fakes.okdesk_webhooks import change_status, status_webhook

TOKEN = "s7Kq2m"


def _keys(value: Any, prefix: str = "") -> set[str]:
    """Every key path of a JSON value (list items under [])."""
    if isinstance(value, dict):
        return {p for k, v in value.items() for p in {prefix + k} | _keys(v, prefix + k + ".")}
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return _keys(value[0], prefix + "[].")
    return set()


def _form_keys(body: bytes) -> set[str]:
    return {key for key, _ in parse_qsl(body.decode(), keep_blank_values=True)}


def _portal() -> tuple[FakeBitrix, int]:
    """A portal holding the fixture user, our bot with its `rate` command, and an invitation."""
    fake = FakeBitrix(domain="127.0.0.1")
    fake.users = json.loads((FIXTURES / "bitrix24/user_get_by_email.json").read_text())["result"]
    handler = "http://127.0.0.1:1/api/v1/bitrix/events?token=t"
    bot = {"CODE": "okdesk_rating", "TYPE": "B", "EVENT_HANDLER": handler, "CLIENT_ID": "app"}
    bot_id = fake._register({**bot, "PROPERTIES": {"NAME": "Оценка заявок"}}).result
    command = {"BOT_ID": bot_id, "COMMAND": "rate", "EVENT_COMMAND_ADD": handler}
    fake._command_register({**command, "CLIENT_ID": "app", "LANG": [{"LANGUAGE_ID": "ru"}]})
    invitation = {"BOT_ID": bot_id, "DIALOG_ID": "27", "MESSAGE": "[b]Заявка[/b]"}
    keyboard = rating_keyboard(TOKEN)
    message_id = fake._message_add({**invitation, "KEYBOARD": keyboard, "CLIENT_ID": "app"}).result
    return fake, int(message_id)


def test_closing_a_ticket_posts_the_captured_webhook_shape_that_we_read() -> None:
    captured = json.loads((FIXTURES / "okdesk/webhook_issue_closed.json").read_text())
    contact = json.loads((FIXTURES / "okdesk/contact_11771.json").read_text())
    issue = {"id": 7, "title": "Касса", "status": {"code": "in_progress", "name": "В работе"}}
    issue.update(rate=None, created_at="2026-11-30T10:00:00.000+03:00", contact={"id": 11771})
    old = change_status(issue, "closed", datetime(2026, 11, 30, 12, tzinfo=UTC))
    sent = status_webhook(issue, old, {11771: contact})
    assert _keys(sent) == _keys(captured)
    read = OkdeskWebhook.model_validate(sent)
    assert (read.new_status, read.contact_id, read.issue.id) == ("closed", 11771, 7)
    assert sent["event"]["old_status"] == {"code": "in_progress", "name": "В работе"}
    assert sent["issue"]["completed_at"] == "2026-11-30T15:00:00.000+03:00"


# A webhook bot's events carry no token (bitrix24.md §12): the fake's default; with
# `user_tokens_in_events` they are an OAuth application's, as captured (§5).
CAPTURED = {
    (False, "click"): "ONIMCOMMANDADD_webhook_bot",
    (False, "reply"): "ONIMBOTMESSAGEADD_webhook_bot",
    (True, "click"): "ONIMCOMMANDADD_keyboard_click",
    (True, "reply"): "ONIMBOTMESSAGEADD_text_reply",
}


@pytest.mark.parametrize("tokens", [False, True])
def test_a_button_press_is_the_captured_click_key_for_key_and_reads_as_a_click(
    tokens: bool,
) -> None:
    fake, message_id = _portal()
    fake.user_tokens_in_events = tokens
    body = fake.click(message_id, user_id=27, button=3)
    assert body is not None
    captured = (FIXTURES / f"bitrix24/{CAPTURED[tokens, 'click']}.form").read_bytes().strip()
    assert _form_keys(body) == _form_keys(captured)
    parsed = parse_event(body)
    (click,) = parsed.events
    assert isinstance(click, RatingClick)
    assert (click.params, click.user_id, click.message_id) == (f"{TOKEN}:4", 27, message_id)
    assert (parsed.auth.domain, parsed.auth.application_token) == ("127.0.0.1", "app")
    assert bool(parsed.auth.access_token) is tokens


@pytest.mark.parametrize("tokens", [False, True])
def test_a_typed_message_is_the_captured_reply_key_for_key_with_a_token_only_if_set(
    tokens: bool,
) -> None:
    fake, _ = _portal()
    fake.user_tokens_in_events = tokens
    body = fake.write(27, "отлично")
    assert body is not None
    captured = (FIXTURES / f"bitrix24/{CAPTURED[tokens, 'reply']}.form").read_bytes().strip()
    assert _form_keys(body) == _form_keys(captured)
    (reply,) = parse_event(body).events
    assert isinstance(reply, ChatReply)
    assert (reply.text, reply.user_id) == ("отлично", 27)
    token = dict(parse_qsl(body.decode())).get("auth[access_token]")
    assert (token is not None and fake.user_tokens[token] == 27) is tokens
