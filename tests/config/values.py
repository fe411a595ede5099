"""Valid settings values, and reading settings or their error in the isolated directory."""

from __future__ import annotations

from typing import Any

import pytest

from bot.settings import SettingsError, load_settings
from bridge.config.settings import Settings

VALID: dict[str, Any] = {
    "okdesk_url": "https://acme.okdesk.ru",
    "okdesk_api_token": "okdesk-test-token",
    "okdesk_webhook_token": "okdesk-webhook-secret-0123456789",
    "bitrix_webhook_url": "https://acme.bitrix24.ru/rest/1/hooktoken/",
    "bitrix_client_id": "rating-bot-acme",
    "bitrix_events_token": "bitrix-events-secret-0123456789",
}


def settings(**changes: Any) -> Settings:
    return Settings(_env_file=None, **{**VALID, **changes})


def settings_error(**changes: Any) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(Settings, _env_file=None, **{**VALID, **changes})
    return str(caught.value)
