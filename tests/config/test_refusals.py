"""What settings refuse and hide: bad URLs and unsafe characters are named, secret values
never shown."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bot.settings import SettingsError, load_settings
from bridge.config.settings import Settings
from tests.config.values import VALID, settings, settings_error

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
        okdesk_url="http://okdesk.internal:8081",
        bitrix_webhook_url="http://10.0.0.7:8082/rest/1/hooktoken",
        public_url="http://rating.acme.example",
    )

    assert made.okdesk_url == "http://okdesk.internal:8081/"
    assert made.bitrix_webhook_url == "http://10.0.0.7:8082/rest/1/hooktoken/"
    assert made.public_url == "http://rating.acme.example/"
    assert sorted(made.plain_http_urls()) == ["BITRIX_WEBHOOK_URL", "OKDESK_URL", "PUBLIC_URL"]


def test_plain_http_to_this_machine_is_accepted_and_not_warned_about() -> None:
    made = settings(
        okdesk_url="http://127.0.0.1:8081",
        bitrix_webhook_url="http://127.0.0.2:8082/rest/1/hooktoken",
        public_url="http://localhost:8080",
    )

    assert made.okdesk_url == "http://127.0.0.1:8081/"
    assert made.plain_http_urls() == [], (
        "the sandbox's log opens with no warning that means nothing"
    )


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
