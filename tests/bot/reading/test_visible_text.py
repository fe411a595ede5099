"""Nothing the bot posts carries a bidirectional override or a zero-width character (issue 23):
the pure function over a table, and a ticket title from Okdesk that reaches the invitation."""

from __future__ import annotations

import pytest

from bot.messenger import ChatMessage
from bot.texts.visible import visible_text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Касса не печатает чек", "Касса не печатает чек"),
        ("Счёт \u202eтxt.exe", "Счёт тxt.exe"),
        ("сме\u200bните па\u200cроль\u200d", "смените пароль"),
        ("\u2066изолировано\u2069 \u2067rtl\u2069 \u2068fsi\u2069", "изолировано rtl fsi"),
        ("\ufeffBOM \u200eLRM \u200fRLM \u061cALM \u180eMVS", "BOM LRM RLM ALM MVS"),
        ("\u202a\u202b\u202c\u202d\u2060\u2061\u2062\u2063\u2064", ""),
        ("эмодзи 👍 и пробел\u00a0неразрывный", "эмодзи 👍 и пробел\u00a0неразрывный"),
    ],
)
def test_hidden_and_reversing_characters_are_removed(raw: str, shown: str) -> None:
    assert visible_text(raw) == shown


def test_a_message_and_its_button_labels_are_made_visible() -> None:
    keyboard = {"BUTTONS": [{"TEXT": "№1\u202e2", "COMMAND": "rate"}, {"TYPE": "NEWLINE"}]}
    message = ChatMessage("Заявка\u200b «\u202eабв»", keyboard)
    assert message.text == "Заявка «абв»"
    assert message.keyboard == {
        "BUTTONS": [{"TEXT": "№12", "COMMAND": "rate"}, {"TYPE": "NEWLINE"}]
    }
    assert ChatMessage("без кнопок").keyboard is None
