"""The buttons besides the five scores: «Изменить оценку», and one button per waiting ticket.

Both run the hidden `rate` command (registered by `bot.register`), so no new command is needed:
«Изменить оценку» carries `<survey token>:change`, a ticket's button `<survey token>:<score>`
(the typed score, now tied to the ticket the person picks).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.texts.messages import RATE_COMMAND, Language, command_params, plain, text

CHANGE = "change"
# Survey tokens are URL-safe base64 (storage.survey.surveys.new_survey_token).
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_COUNT = re.compile(r"[0-9]{1,6}")
# At most this many ticket buttons (the newest waiting tickets).
MAX_CHOICES = 10
# A button's title is cut to this many characters (a button is one line).
TITLE_LIMIT = 40


@dataclass(frozen=True)
class ChangePress:
    """An «Изменить оценку» press: the survey's token, and how many changes the survey had
    when the button was drawn (None on a button drawn before the count was carried)."""

    token: str
    changes_made: int | None


def change_params(survey_token: str, changes_made: int) -> str:
    """The COMMAND_PARAMS of the «Изменить оценку» button: each press counts for one change."""
    return f"{survey_token}:{CHANGE}:{changes_made}"


def parse_change_params(params: str) -> ChangePress | None:
    """An «Изменить оценку» press, or None for anything else."""
    parts = params.strip().split(":")
    count: int | None = None
    if len(parts) == 3 and _COUNT.fullmatch(parts[2]):
        count = int(parts[2])
    elif len(parts) != 2:
        return None
    token, word = parts[0], parts[1]
    return ChangePress(token, count) if word == CHANGE and _TOKEN.fullmatch(token) else None


def change_keyboard(survey_token: str, language: Language, changes_made: int) -> dict[str, Any]:
    """One button under the thank-you: «Изменить оценку»."""
    button = {
        "TEXT": text("change_button", language),
        "COMMAND": RATE_COMMAND,
        "COMMAND_PARAMS": change_params(survey_token, changes_made),
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
