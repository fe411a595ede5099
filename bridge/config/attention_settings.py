"""The settings of what needs the team's attention: the report's worklist of low ratings, the
alert the bot posts for each to a Bitrix24 chat, and the weekly digest in that chat.
`bridge.config.settings.Settings` inherits them. Documented in example.env and the README's
settings table."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, field_validator, model_validator

from bridge.config.survey_settings import SurveyRulesSettings

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# A group chat (`chat` and its number) or a person's id: a dialog as Bitrix24 names it.
_DIALOG = re.compile(r"(?:chat)?[0-9]{1,18}")
_WEEKLY = re.compile(r"([a-z]+)\s+([0-9]{1,2}):([0-9]{2})")


@dataclass(frozen=True)
class Weekly:
    """A moment of each week: a weekday (0 is Monday) and a time of day."""

    weekday: int
    at: time


def parse_weekly(value: object) -> object:
    """`mon 09:00` (or `monday 9:00`) → `Weekly`; empty or `off` → None."""
    if not isinstance(value, str):
        return value
    given = value.strip().lower()
    if given in ("", "off"):
        return None
    found = _WEEKLY.fullmatch(given)
    day = found.group(1) if found else ""
    days = [i for i, name in enumerate(DAYS) if name == day or name[:3] == day]
    if found is None or not days or int(found.group(2)) > 23 or int(found.group(3)) > 59:
        raise ValueError("must be a weekday and a time of day, e.g. mon 09:00 (or off)")
    return Weekly(days[0], time(int(found.group(2)), int(found.group(3))))


class AttentionSettings(SurveyRulesSettings):
    """Which ratings need someone's attention, and where the team hears of them."""

    # A person's rating at or below this score is listed under «Needs attention» on /admin
    # until someone marks it handled, and is posted to ALERT_DIALOG_ID.
    alert_max_score: int = Field(default=2, ge=1, le=5)
    # The Bitrix24 dialog the bot posts alerts and the digest to: `chat123` or a user's id.
    alert_dialog_id: str = ""
    # When the weekly digest is posted (in TIMEZONE), or None.
    digest_at: Annotated[Weekly | None, BeforeValidator(parse_weekly)] = None
    timezone: str = "Europe/Moscow"

    @field_validator("alert_dialog_id", mode="before")
    @classmethod
    def _dialog(cls, value: object) -> object:
        given = str(value or "").strip()
        if given.lower() == "off":
            return ""
        if given and not _DIALOG.fullmatch(given):
            raise ValueError("must be a group chat, chat and its number (chat123), or a user id")
        return given

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be a time zone name, e.g. Europe/Moscow") from None
        return value

    @model_validator(mode="after")
    def _digest_has_a_chat(self) -> AttentionSettings:
        if self.digest_at is not None and not self.alert_dialog_id:
            raise ValueError("DIGEST_AT needs ALERT_DIALOG_ID, the chat the digest is posted to")
        return self

    @property
    def zone(self) -> ZoneInfo:
        """TIMEZONE, in which DIGEST_AT and the alerts' times are read."""
        return ZoneInfo(self.timezone)
