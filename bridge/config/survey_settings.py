"""The settings of issue 10's survey rules: the reminder, who is asked, the automatic
rating's comment, and the texts file. `bridge.config.settings.Settings` inherits them.

Every one is documented in example.env; those that can be switched off accept `off`.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, Field, field_validator
from pydantic_settings import NoDecode

from bot.settings import BotSettings
from bot.texts.texts_file import load_texts
from bridge.config.durations import parse_duration, parse_optional_duration

_OFF = ("off", "none", "no", "false", "")


def parse_reminder(value: object) -> object:
    """`off` → False (no reminder); empty or unset → None (half of RATING_TIMEOUT)."""
    if isinstance(value, str) and value.strip().lower() == "":
        return None
    if isinstance(value, str) and value.strip().lower() in _OFF:
        return False
    return parse_duration(value)


def parse_cooldown(value: object) -> object:
    """`off` (or empty) → None; otherwise a duration."""
    return parse_optional_duration(value)


def parse_list(value: object) -> object:
    """`a, b ,c` → ["a", "b", "c"]; `off` or empty → []."""
    if isinstance(value, str):
        if value.strip().lower() in _OFF:
            return []
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def parse_texts_file(value: object) -> object:
    """Empty or `off` → no file (the built-in texts)."""
    if isinstance(value, str) and value.strip().lower() in _OFF:
        return None
    return value


CommaList = Annotated[list[str], NoDecode, BeforeValidator(parse_list)]


class SurveyRulesSettings(BotSettings):
    """Issue 10: the reminder, who is asked, the automatic comment, the texts file."""

    # One reminder this long after the closure; unset: half of RATING_TIMEOUT; `off`: none.
    reminder_after: Annotated[timedelta | bool | None, BeforeValidator(parse_reminder)] = None
    # A person asked within this time is not asked again (`off`: no cooldown).
    survey_cooldown: Annotated[timedelta | None, BeforeValidator(parse_cooldown)] = None
    # The share of closures surveyed, chosen from the ticket and its closure time.
    survey_sample_percent: int = Field(default=100, ge=0, le=100)
    skip_company_ids: Annotated[list[int], NoDecode, BeforeValidator(parse_list)] = Field(
        default=[]
    )
    skip_type_codes: CommaList = Field(default=[])
    skip_priority_codes: CommaList = Field(default=[])
    # A private comment on the ticket when the default rating is set automatically.
    auto_rating_comment: bool = True
    # The Okdesk employee the automatic comment is written as; unset: the ticket's engineer.
    okdesk_comment_author_id: int | None = Field(default=None, gt=0)
    # Replacement texts (TOML), checked at start.
    texts_file: Annotated[Path | None, BeforeValidator(parse_texts_file)] = None
    # Where to ask what the bot cannot answer (told once per survey); unset: the built-in text.
    support_contact_text: str | None = Field(default=None, max_length=500)

    @field_validator("support_contact_text", mode="before")
    @classmethod
    def _contact_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("okdesk_comment_author_id", mode="before")
    @classmethod
    def _author_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("reminder_after")
    @classmethod
    def _reminder(cls, value: timedelta | bool | None) -> timedelta | bool | None:
        if value is True:
            raise ValueError("must be a duration such as 12h, or off")
        if isinstance(value, timedelta) and value <= timedelta(0):
            raise ValueError("must be longer than zero (or off)")
        return value

    @field_validator("survey_cooldown")
    @classmethod
    def _cooldown(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("must be longer than zero (or off)")
        return value

    @field_validator("texts_file")
    @classmethod
    def _texts(cls, value: Path | None) -> Path | None:
        if value is not None:
            load_texts(value)
        return value
