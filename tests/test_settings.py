"""Settings from keyword values, the environment and `.env` (bridge/settings.py, bot/settings.py).

Every test runs in an empty temporary directory with the settings' environment variables
removed, so nothing is read from the real environment or the repository's own `.env`.
"""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bot.settings import SettingsError, load_settings
from bridge.settings import Settings

REPO = Path(__file__).resolve().parents[1]

REQUIRED = (
    "OKDESK_URL",
    "OKDESK_API_TOKEN",
    "OKDESK_WEBHOOK_TOKEN",
    "BITRIX_WEBHOOK_URL",
    "BITRIX_CLIENT_ID",
    "BITRIX_EVENTS_TOKEN",
)
VALID: dict[str, Any] = {
    "okdesk_url": "https://acme.okdesk.ru",
    "okdesk_api_token": "okdesk-test-token",
    "okdesk_webhook_token": "okdesk-webhook-secret-0123456789",
    "bitrix_webhook_url": "https://acme.bitrix24.ru/rest/1/hooktoken/",
    "bitrix_client_id": "rating-bot-acme",
    "bitrix_events_token": "bitrix-events-secret-0123456789",
}


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No setting in the environment and no `.env` in the working directory."""
    fields = {name.lower() for name in Settings.model_fields}
    for name in list(os.environ):
        if name.lower() in fields:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def settings(**changes: Any) -> Settings:
    return Settings(_env_file=None, **{**VALID, **changes})


def settings_error(**changes: Any) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(Settings, _env_file=None, **{**VALID, **changes})
    return str(caught.value)


def test_valid_values_give_settings_with_defaults() -> None:
    made = settings()

    assert made.okdesk_url == "https://acme.okdesk.ru/"
    assert made.okdesk_trigger_statuses == ["closed"]
    assert made.rating_timeout == timedelta(hours=24)
    assert made.default_rating == 5
    assert made.rating_map == {1: "bad", 2: "bad", 3: "normal", 4: "good", 5: "good"}
    assert made.language == "ru"
    assert made.placeholders() == []
    assert made.plain_http_urls() == []


# --- durations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("90", 90),
        ("30s", 30),
        ("15m", 900),
        ("24h", 86400),
        ("7d", 604800),
        ("0.5s", 0.5),
        ("1.5h", 5400),
        (" 15 M ", 900),
        ("2D", 172800),
        (90, 90),
        (0.25, 0.25),
    ],
)
def test_duration_accepts_seconds_or_a_unit(value: object, seconds: float) -> None:
    assert settings(rating_timeout=value).rating_timeout == timedelta(seconds=seconds)


@pytest.mark.parametrize("value", ["abc", "-5", "10x", "", "1h30m", "5 minutes", "1,5h", "h"])
def test_bad_duration_is_refused_with_a_message(value: str) -> None:
    message = settings_error(rating_timeout=value)

    assert "RATING_TIMEOUT: must be seconds or a number with a unit s, m, h or d" in message


@pytest.mark.parametrize("field", ["rating_timeout", "job_lease", "http_timeout"])
@pytest.mark.parametrize("value", ["0", "0s", "0.0m"])
def test_zero_duration_is_refused_where_it_would_spin(field: str, value: str) -> None:
    assert f"{field.upper()}: must be longer than zero" in settings_error(**{field: value})


# --- default rating and rating map -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("off", None),
        ("OFF", None),
        (" none ", None),
        ("false", None),
        ("no", None),
        ("", None),
        (None, None),
        ("3", 3),
        (" 1 ", 1),
        (5, 5),
    ],
)
def test_default_rating_is_a_score_or_off(value: object, expected: int | None) -> None:
    assert settings(default_rating=value).default_rating == expected


@pytest.mark.parametrize("value", ["7", "0", "-1", "abc", "3.5", "6"])
def test_default_rating_outside_one_to_five_is_refused(value: str) -> None:
    assert "DEFAULT_RATING:" in settings_error(default_rating=value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "1:bad,2:bad,3:normal,4:good,5:good",
            {1: "bad", 2: "bad", 3: "normal", 4: "good", 5: "good"},
        ),
        (
            " 1 : BAD , 2:Bad,3: normal ,4:good,5:GOOD ",
            {1: "bad", 2: "bad", 3: "normal", 4: "good", 5: "good"},
        ),
        (
            "5:good,4:good,3:good,2:normal,1:bad",
            {1: "bad", 2: "normal", 3: "good", 4: "good", 5: "good"},
        ),
    ],
)
def test_rating_map_is_parsed(value: str, expected: dict[int, str]) -> None:
    assert settings(rating_map=value).rating_map == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1:bad,2:bad", "must give an Okdesk rate for each score 1 to 5"),
        ("1:bad,2:bad,3:normal,4:good,5:good,6:good", "must give an Okdesk rate for each score"),
        ("0:bad,1:bad,2:bad,3:normal,4:good", "must give an Okdesk rate for each score"),
        ("1=bad,2=bad,3=normal,4=good,5=good", "must look like 1:bad,2:bad,3:normal"),
        ("one:bad,2:bad,3:normal,4:good,5:good", "must look like 1:bad,2:bad,3:normal"),
        ("1:bad,2:bad,3:normal,4:good,", "must look like 1:bad,2:bad,3:normal"),
        ("", "must look like 1:bad,2:bad,3:normal"),
        ("1:bad,2:bad,3:normal,4:good,5:excellent", "RATING_MAP"),
        ("1:poor,2:bad,3:normal,4:good,5:good", "RATING_MAP"),
    ],
)
def test_bad_rating_map_is_refused(value: str, message: str) -> None:
    error = settings_error(rating_map=value)

    assert "RATING_MAP:" in error
    assert message in error


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
            "DEFAULT_RATING_WHEN_UNDELIVERABLE": "false",
        },
    )

    made = load_settings(Settings)

    assert made.default_rating is None
    assert made.rating_timeout == timedelta(minutes=15)
    assert made.bitrix_bot_id is None
    assert made.port == 9000
    assert made.default_rating_when_undeliverable is False


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
    shutil.copy(REPO / "example.env", _isolated / ".env")

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


SECRETS = {
    "okdesk_api_token": "OKDESK-api-secret-aaaa",
    "okdesk_webhook_token": "okdesk-webhook-secret-bbbbbbbbbbbb",
    "bitrix_client_id": "client-id-secret-cccc",
    "bitrix_events_token": "events-secret-dddddddddddd",
}


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"okdesk_url": None}, ["OKDESK_URL"]),
        ({"okdesk_url": "ftp://x"}, ["OKDESK_URL"]),
        ({"okdesk_webhook_token": "short-secret"}, ["OKDESK_WEBHOOK_TOKEN"]),
        ({"bitrix_client_id": "seven77"}, ["BITRIX_CLIENT_ID"]),
        ({"port": "okdesk-webhook-secret-bbbbbbbbbbbb"}, ["PORT"]),
        ({"language": "client-id-secret-cccc"}, ["LANGUAGE"]),
        ({"bitrix_bot_code": "events-secret-dddddddddddd!"}, ["BITRIX_BOT_CODE"]),
        (
            {"bitrix_webhook_url": "ftp://acme.bitrix24.ru/rest/1/hook-code-secret/"},
            ["BITRIX_WEBHOOK_URL"],
        ),
        (
            {"bitrix_webhook_url": "https://acme.bitrix24.ru/hook-code-secret/"},
            ["BITRIX_WEBHOOK_URL"],
        ),
    ],
)
def test_error_message_names_the_setting_but_never_a_secret_value(
    changes: dict[str, Any], named: list[str]
) -> None:
    values = {**VALID, **SECRETS, **changes}
    values = {name: value for name, value in values.items() if value is not None}

    with pytest.raises(SettingsError) as caught:
        load_settings(Settings, _env_file=None, **values)

    message = str(caught.value)
    for name in named:
        assert f"  {name}: " in message
    for secret in [*SECRETS.values(), "short-secret", "seven77", "hook-code-secret"]:
        assert secret not in message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("okdesk_url", "ftp://x"),
        ("okdesk_url", "acme.okdesk.ru"),
        ("okdesk_url", "https://"),
        ("okdesk_url", "https://acme.okdesk.ru/?lang=ru"),
        ("okdesk_url", "https://acme.okdesk.ru/#top"),
        ("bitrix_webhook_url", "ftp://x/rest/1/code/"),
        ("bitrix_webhook_url", "https://acme.bitrix24.ru/"),
        ("public_url", "ftp://x"),
        ("public_url", "rating.acme.example"),
    ],
)
def test_invalid_url_is_named(field: str, value: str) -> None:
    assert f"  {field.upper()}: {field.upper()} must" in settings_error(**{field: value})


def test_several_problems_are_reported_at_once() -> None:
    message = settings_error(okdesk_url="ftp://x", default_rating="7", rating_timeout="soon")

    assert all(f"  {name}: " in message for name in ("OKDESK_URL", "DEFAULT_RATING"))
    assert "  RATING_TIMEOUT: " in message


# --- URLs, the portal and secrets ------------------------------------------------------------


def test_plain_http_urls_are_accepted_and_listed() -> None:
    made = settings(
        okdesk_url="http://127.0.0.1:8081",
        bitrix_webhook_url="http://127.0.0.1:8082/rest/1/hooktoken",
        public_url="http://localhost:8080",
    )

    assert made.okdesk_url == "http://127.0.0.1:8081/"
    assert made.bitrix_webhook_url == "http://127.0.0.1:8082/rest/1/hooktoken/"
    assert made.public_url == "http://localhost:8080/"
    assert sorted(made.plain_http_urls()) == ["BITRIX_WEBHOOK_URL", "OKDESK_URL", "PUBLIC_URL"]


@pytest.mark.parametrize("public_url", [None, ""])
def test_unset_public_url_is_none_and_not_listed(public_url: str | None) -> None:
    made = settings(public_url=public_url, okdesk_url="http://okdesk.local")

    assert made.public_url is None
    assert made.plain_http_urls() == ["OKDESK_URL"]


@pytest.mark.parametrize(
    ("webhook_url", "domain"),
    [
        ("https://acme.bitrix24.ru/rest/1/hooktoken/", "acme.bitrix24.ru"),
        ("https://ACME.Bitrix24.RU:8443/rest/1/hooktoken/", "acme.bitrix24.ru"),
        ("http://127.0.0.1:8082/rest/1/hooktoken", "127.0.0.1"),
        ("https://portal.corp.example:443/rest/7/abc/", "portal.corp.example"),
    ],
)
def test_portal_domain_is_the_host_without_port(webhook_url: str, domain: str) -> None:
    assert settings(bitrix_webhook_url=webhook_url).portal_domain == domain


@pytest.mark.parametrize("field", ["bitrix_client_id", "bitrix_events_token"])
@pytest.mark.parametrize(
    "value",
    [
        "rating+bot+acme-0123456789",
        "rating&bot=acme-0123456789",
        "rating#bot-acme-0123456789",
        "rating%20bot-acme-0123456789",
        "rating bot-acme-0123456789",
        "rating.bot.acme.0123456789",
        "рейтинг-бот-0123456789abcdef",
    ],
)
def test_client_id_and_events_token_refuse_characters_unsafe_in_the_handler_url(
    field: str, value: str
) -> None:
    # Bitrix24 appends CLIENT_ID to the handler URL unencoded and parses it back (§7).
    message = settings_error(**{field: value})

    assert f"  {field.upper()}: may hold only " in message
    assert "A-Z" in message and "0-9" in message and "'-' and '_'" in message
    assert value not in message


@pytest.mark.parametrize(
    ("client_id", "events_token"),
    [
        ("rating-bot-acme", "bitrix-events-secret-0123456789"),
        ("RATING_bot_2024", "Zx9_-" * 8),
        ("change-me-client-id", "change-me-a-long-random-events-secret"),
    ],
)
def test_letters_digits_dash_and_underscore_are_accepted(client_id: str, events_token: str) -> None:
    made = settings(bitrix_client_id=client_id, bitrix_events_token=events_token)

    assert made.bitrix_client_id.get_secret_value() == client_id
    assert made.bitrix_events_token.get_secret_value() == events_token


@pytest.mark.parametrize(
    ("field", "value"), [("bitrix_client_id", "seven77"), ("bitrix_events_token", "a" * 15)]
)
def test_url_safe_values_still_need_their_minimum_length(field: str, value: str) -> None:
    assert f"  {field.upper()}: " in settings_error(**{field: value})


@pytest.mark.parametrize(
    ("application_token", "expected"),
    [(None, "rating-bot-acme"), ("", "rating-bot-acme"), ("831c76b0app", "831c76b0app")],
)
def test_expected_application_token_defaults_to_the_client_id(
    application_token: str | None, expected: str
) -> None:
    made = settings(bitrix_application_token=application_token)

    assert made.expected_application_token == expected


@pytest.mark.parametrize(
    "webhook_url",
    ["https://acme.bitrix24.ru/rest/1/hooktoken/", "https://acme.bitrix24.ru/rest/1/hooktoken"],
)
def test_secrets_hold_the_tokens_and_the_webhook_code(webhook_url: str) -> None:
    made = settings(bitrix_webhook_url=webhook_url, bitrix_application_token="831c76b0app")

    assert set(made.secrets()) == {
        "okdesk-test-token",
        "okdesk-webhook-secret-0123456789",
        "rating-bot-acme",
        "bitrix-events-secret-0123456789",
        "831c76b0app",
        "hooktoken",
    }


def test_secret_settings_are_hidden_in_repr() -> None:
    text = repr(settings())

    for name in ("okdesk_api_token", "okdesk_webhook_token", "bitrix_events_token"):
        assert VALID[name] not in text


def test_constructor_refuses_missing_values_with_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None)
