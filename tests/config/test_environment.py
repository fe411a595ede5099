"""Settings from the environment and `.env`: typed, overridden, and all missing ones named."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings
from bridge.config.settings import Settings
from harness.constants import ROOT
from tests.config.values import VALID

REQUIRED = (
    "OKDESK_URL",
    "OKDESK_API_TOKEN",
    "OKDESK_WEBHOOK_TOKEN",
    "BITRIX_WEBHOOK_URL",
    "BITRIX_CLIENT_ID",
    "BITRIX_EVENTS_TOKEN",
)


# --- the environment and .env ----------------------------------------------------------------


def _set_env(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name.upper(), value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("closed, completed", ["closed", "completed"]),
        ("closed", ["closed"]),
        (" closed ,, completed , ", ["closed", "completed"]),
        ("injob", ["injob"]),
    ],
)
def test_trigger_statuses_come_from_the_environment_as_a_list(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]
) -> None:
    _set_env(monkeypatch, {**VALID, "OKDESK_TRIGGER_STATUSES": value})

    assert load_settings(Settings).okdesk_trigger_statuses == expected


@pytest.mark.parametrize("value", [",", " , ,"])
def test_trigger_statuses_without_any_code_are_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    _set_env(monkeypatch, {**VALID, "OKDESK_TRIGGER_STATUSES": value})

    with pytest.raises(SettingsError, match="OKDESK_TRIGGER_STATUSES"):
        load_settings(Settings)


def test_environment_values_are_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_env(
        monkeypatch,
        {
            **VALID,
            "RATING_MAP": "1:bad,2:bad,3:normal,4:good,5:good",
            "DEFAULT_RATING": "off",
            "RATING_TIMEOUT": "15m",
            "BITRIX_BOT_ID": "",
            "PORT": "9000",
            "DEFAULT_RATING_WHEN_UNDELIVERABLE": "true",
        },
    )

    made = load_settings(Settings)

    assert made.default_rating is None
    assert made.rating_timeout == timedelta(minutes=15)
    assert made.bitrix_bot_id is None
    assert made.port == 9000
    assert made.default_rating_when_undeliverable is True


def test_dot_env_in_the_working_directory_is_read(_isolated: Path) -> None:
    lines = [f"{name.upper()}={value}" for name, value in VALID.items()]
    (_isolated / ".env").write_text("\n".join([*lines, "LANGUAGE=en"]) + "\n", encoding="utf-8")

    made = load_settings(Settings)

    assert made.language == "en"
    assert made.okdesk_api_token.get_secret_value() == "okdesk-test-token"


def test_environment_overrides_dot_env(_isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [f"{name.upper()}={value}" for name, value in VALID.items()]
    (_isolated / ".env").write_text("\n".join([*lines, "LANGUAGE=en"]) + "\n", encoding="utf-8")
    monkeypatch.setenv("LANGUAGE", "ru")

    assert load_settings(Settings).language == "ru"


def test_example_env_copied_to_dot_env_gives_valid_settings_with_placeholders(
    _isolated: Path,
) -> None:
    shutil.copy(ROOT / "example.env", _isolated / ".env")

    made = load_settings(Settings)

    assert set(made.placeholders()) >= {
        "OKDESK_URL",
        "OKDESK_API_TOKEN",
        "OKDESK_WEBHOOK_TOKEN",
        "BITRIX_WEBHOOK_URL",
        "BITRIX_CLIENT_ID",
        "BITRIX_EVENTS_TOKEN",
    }
    assert made.bitrix_bot_id is None
    assert made.bitrix_application_token is None
    assert made.bot_name == "Оценка заявок"


# --- reporting bad settings ------------------------------------------------------------------


def test_nothing_set_names_every_required_setting() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(Settings)

    message = str(caught.value)
    for name in REQUIRED:
        assert f"{name}: is required but not set" in message
    assert "DATABASE_URL" not in message
