"""The team's chat settings: ALERT_DIALOG_ID is a dialog Bitrix24 knows, DIGEST_AT a weekday and
a time (and needs the chat), TIMEZONE a real time zone; each refusal names the setting."""

from __future__ import annotations

from datetime import time

import pytest

from bridge.config.attention_settings import Weekly
from tests.config.values import settings, settings_error


@pytest.mark.parametrize(
    ("given", "kept"), [("chat1157", "chat1157"), (" 27 ", "27"), ("", ""), ("off", "")]
)
def test_the_team_chat_is_a_group_chat_or_a_user(given: str, kept: str) -> None:
    assert settings(alert_dialog_id=given).alert_dialog_id == kept


@pytest.mark.parametrize("given", ["chat", "sg12", "chat12; DROP", "https://portal/chat12"])
def test_anything_else_is_refused_by_name(given: str) -> None:
    assert "ALERT_DIALOG_ID" in settings_error(alert_dialog_id=given)


@pytest.mark.parametrize(
    ("given", "weekly"),
    [
        ("mon 09:00", Weekly(0, time(9, 0))),
        ("Friday 17:30", Weekly(4, time(17, 30))),
        ("sun 0:05", Weekly(6, time(0, 5))),
        ("off", None),
        ("", None),
    ],
)
def test_the_digest_is_a_weekday_and_a_time(given: str, weekly: Weekly | None) -> None:
    assert settings(alert_dialog_id="chat7", digest_at=given).digest_at == weekly


@pytest.mark.parametrize("given", ["mon", "09:00", "mo 09:00", "mon 24:00", "mon 9:60", "daily"])
def test_a_digest_time_that_is_not_one_is_refused_by_name(given: str) -> None:
    assert "DIGEST_AT" in settings_error(alert_dialog_id="chat7", digest_at=given)


def test_a_digest_needs_the_team_chat() -> None:
    assert "DIGEST_AT needs ALERT_DIALOG_ID" in settings_error(digest_at="mon 09:00")


def test_the_time_zone_is_moscow_unless_set_and_must_exist() -> None:
    assert settings().timezone == "Europe/Moscow"
    assert settings(timezone="Asia/Yekaterinburg").zone.key == "Asia/Yekaterinburg"
    assert "TIMEZONE" in settings_error(timezone="Mars/Olympus")
