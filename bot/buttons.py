"""The buttons besides the five scores: «Изменить оценку», and one button per waiting ticket.

Both run the hidden `rate` command (registered by `bot.register`), so no new command is needed:
«Изменить оценку» carries `<survey token>:change`, a ticket's button `<survey token>:<score>`
(the typed score, now tied to the ticket the person picks).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from bot.messages import RATE_COMMAND, Language, command_params, plain, text

CHANGE = "change"
# Survey tokens are URL-safe base64 (storage.surveys.new_survey_token).
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
# At most this many ticket buttons (the newest waiting tickets).
MAX_CHOICES = 10
# A button's title is cut to this many characters (a button is one line).
TITLE_LIMIT = 40


def change_params(survey_token: str) -> str:
    """The COMMAND_PARAMS of the «Изменить оценку» button."""
    return f"{survey_token}:{CHANGE}"


def parse_change_params(params: str) -> str | None:
    """The survey token of an «Изменить оценку» press, or None for anything else."""
    token, _, word = params.strip().rpartition(":")
    return token if word == CHANGE and _TOKEN.fullmatch(token) else None


def change_keyboard(survey_token: str, language: Language) -> dict[str, Any]:
    """One button under the thank-you: «Изменить оценку»."""
    button = {
        "TEXT": text("change_button", language),
        "COMMAND": RATE_COMMAND,
        "COMMAND_PARAMS": change_params(survey_token),
        "DISPLAY": "LINE",
        "BLOCK": "Y",
    }
    return {"BUTTONS": [button]}


def ticket_keyboard(
    choices: Sequence[tuple[str, int, str | None]], score: int, language: Language
) -> dict[str, Any]:
    """One button per waiting ticket ((survey token, ticket number, title)), each rating it
    `score`; a button names the ticket's title, so the person need not know its number."""
    buttons = [
        {
            "TEXT": _ticket_label(number, title, language),
            "COMMAND": RATE_COMMAND,
            "COMMAND_PARAMS": command_params(token, score),
            "DISPLAY": "LINE",
            "BLOCK": "Y",
        }
        for token, number, title in choices[:MAX_CHOICES]
    ]
    return {"BUTTONS": buttons}


def _ticket_label(number: int, title: str | None, language: Language) -> str:
    label = text("ticket_button", language, number=number)
    return f"{label} «{plain(title, TITLE_LIMIT)}»" if title else label
