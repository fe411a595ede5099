"""Settings the bot needs (Bitrix24 side), read from the environment and `.env`.

Nothing is read at import: `load_settings()` builds the object at start-up and reports every
missing or invalid setting by name at once.
"""

from __future__ import annotations

import re
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The example values in example.env all say "change-me" or "your-".
PLACEHOLDER = re.compile(r"change-?me|your-", re.IGNORECASE)
# Bitrix24 appends CLIENT_ID to the handler URL unencoded and routes events by parsing it back
# (bitrix24.md §7): `+ & # %` or a space there, or in our events token, and no event arrives.
URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")
# imbot.v2's botToken: at most 40 characters since 06.08.2026 (bitrix24-v2.md §1); we also keep
# it URL-safe, since it is sent in every body and (webhook mode) we never want to encode it.
BOT_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,40}")


def check_base_url(value: str, name: str) -> str:
    """Accept an http(s) URL with a host; normalise it to end with '/'."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} must be an http(s) URL with a host name")
    if parts.query or parts.fragment:
        raise ValueError(f"{name} must not have a query or fragment")
    url = value.strip()
    return url if url.endswith("/") else url + "/"


class BotSettings(BaseSettings):
    """Bitrix24 portal, bot identity and the public address events come to."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    bitrix_webhook_url: str = Field(description="https://portal/rest/<user>/<code>/")
    bitrix_client_id: SecretStr = Field(min_length=8)
    bitrix_bot_code: str = Field(default="okdesk_rating", pattern=r"^[A-Za-z0-9_]{1,50}$")
    bitrix_bot_id: int | None = Field(default=None, gt=0)
    bitrix_events_token: SecretStr = Field(min_length=16)
    # During a rotation (`python -m bot.register --rotate`) the old URL secret is still accepted,
    # so events the portal sends before the handlers are rebound are not refused.
    bitrix_events_token_previous: SecretStr | None = Field(default=None, min_length=16)
    bitrix_application_token: SecretStr | None = None
    bot_name: str = "Оценка заявок"
    bot_color: str = "AQUA"
    bot_work_position: str = "Бот оценки заявок Okdesk"
    public_url: str | None = None
    language: Literal["ru", "en"] = "ru"
    # Which Bitrix24 chatbot API carries the bot: imbot v1 (events posted to PUBLIC_URL) or
    # imbot.v2 (bitrix24-v2.md), whose events are fetched (no PUBLIC_URL) or posted (webhook).
    bitrix_api: Literal["v1", "v2"] = "v1"
    bitrix_event_mode: Literal["fetch", "webhook"] = "fetch"
    bitrix_bot_token: SecretStr | None = None
    # The v2 bot has a code of its own: reusing the v1 code would return the v1 bot (§1).
    bitrix_v2_bot_code: str = Field(default="okdesk_rating_v2", pattern=r"^[A-Za-z0-9_]{1,50}$")
    bitrix_v2_bot_id: int | None = Field(default=None, gt=0)
    # Whether the portal runs imbot.v2's chat calls inside `batch` (undocumented): off, each
    # message is a request of its own; on, they share requests as v1's do.
    bitrix_v2_in_batch: bool = False
    # The portal installation events must come from (`auth[member_id]`: python -m bridge.admin
    # check shows what the events carry). Unset: not checked, reported as not configured.
    bitrix_member_id: str | None = Field(default=None, max_length=64)
    # In imbot.v2 mode, keep the v1 event route open for the v1 bot's last surveys (README,
    # "Switching from imbot v1 to v2"); closed otherwise.
    bitrix_switching_from_v1: bool = False

    @field_validator("bitrix_webhook_url")
    @classmethod
    def _webhook_url(cls, value: str) -> str:
        url = check_base_url(value, "BITRIX_WEBHOOK_URL")
        if "/rest/" not in urlsplit(url).path:
            raise ValueError("BITRIX_WEBHOOK_URL must look like https://portal/rest/<user>/<code>/")
        return url

    @field_validator("bitrix_client_id", "bitrix_events_token", "bitrix_events_token_previous")
    @classmethod
    def _url_safe(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not URL_SAFE.fullmatch(value.get_secret_value()):
            raise ValueError(
                "may hold only the letters A-Z and a-z, the digits 0-9, '-' and '_' "
                "(Bitrix24 puts it into the handler URL unencoded)"
            )
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        return None if not value else check_base_url(value, "PUBLIC_URL")

    @field_validator("bitrix_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not BOT_TOKEN.fullmatch(value.get_secret_value()):
            raise ValueError(
                "must be 1 to 40 characters of A-Z, a-z, 0-9, '-' and '_' "
                "(Bitrix24 refuses longer tokens: BOT_TOKEN_INVALID_LENGTH)"
            )
        return value

    @model_validator(mode="after")
    def _v2_needs_a_token(self) -> BotSettings:
        if self.bitrix_api == "v2" and self.bitrix_bot_token is None:
            raise ValueError(
                "BITRIX_BOT_TOKEN is required with BITRIX_API=v2 "
                "(python -c 'import secrets; print(secrets.token_hex(20))')"
            )
        return self

    @property
    def fetches_events(self) -> bool:
        """Whether events are fetched from Bitrix24 (imbot.v2 fetch mode), not posted to us."""
        return self.bitrix_api == "v2" and self.bitrix_event_mode == "fetch"

    @property
    def bot_token(self) -> str:
        """The v2 bot's token ('' with v1)."""
        return self.bitrix_bot_token.get_secret_value() if self.bitrix_bot_token else ""

    @field_validator(
        "bitrix_bot_id",
        "bitrix_application_token",
        "bitrix_bot_token",
        "bitrix_v2_bot_id",
        "bitrix_member_id",
        "bitrix_events_token_previous",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def events_tokens(self) -> list[str]:
        """The URL secrets an event may carry: the current one, and during a rotation the old."""
        tokens = [self.bitrix_events_token, self.bitrix_events_token_previous]
        return [token.get_secret_value() for token in tokens if token is not None]

    @property
    def portal_domain(self) -> str:
        """The portal's host name, as Bitrix24 puts it in `auth[domain]`."""
        return (urlsplit(self.bitrix_webhook_url).hostname or "").lower()

    @property
    def expected_application_token(self) -> str:
        """What `auth[application_token]` must be: for a webhook bot, its CLIENT_ID."""
        token = self.bitrix_application_token or self.bitrix_client_id
        return token.get_secret_value()

    def plain_http_urls(self) -> list[str]:
        """Names of base URLs that send plain http over a network (allowed, with a warning; a
        loopback address, as the sandbox's fakes have, crosses no network and is not listed)."""
        urls = {"BITRIX_WEBHOOK_URL": self.bitrix_webhook_url, "PUBLIC_URL": self.public_url}
        return [name for name, url in urls.items() if url and plain_over_network(url)]

    def placeholders(self) -> list[str]:
        """Names of settings still holding the example values of example.env."""
        values = {
            "BITRIX_WEBHOOK_URL": self.bitrix_webhook_url,
            "BITRIX_CLIENT_ID": self.bitrix_client_id.get_secret_value(),
            "BITRIX_EVENTS_TOKEN": self.bitrix_events_token.get_secret_value(),
            "PUBLIC_URL": self.public_url or "",
            "BITRIX_BOT_TOKEN": self.bot_token,
        }
        return [name for name, value in values.items() if PLACEHOLDER.search(value)]

    def secrets(self) -> list[str]:
        """Every secret value, for the log filter that hides them."""
        values = [
            self.bitrix_client_id,
            self.bitrix_events_token,
            self.bitrix_events_token_previous,
            self.bitrix_application_token,
            self.bitrix_bot_token,
        ]
        secret = [v.get_secret_value() for v in values if v is not None]
        webhook_code = urlsplit(self.bitrix_webhook_url).path.rstrip("/").rsplit("/", 1)[-1]
        return [s for s in [*secret, webhook_code] if len(s) >= 4]


def plain_over_network(url: str) -> bool:
    """Whether `url` is plain http to a host beyond this machine."""
    if not url.startswith("http://"):
        return False
    host = (urlsplit(url).hostname or "").lower()
    return host != "localhost" and not host.startswith("127.") and host != "::1"


class SettingsError(Exception):
    """Settings are missing or invalid; the message names each one."""


S = TypeVar("S", bound=BaseSettings)


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Build settings from the environment and `.env`, or fail naming every bad setting."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = str(error["loc"][0]).upper() if error["loc"] else "settings"
            message = str(error["msg"]).removeprefix("Value error, ")
            if error["type"] == "missing":
                message = "is required but not set"
            lines.append(f"  {name}: {message}")
        raise SettingsError("invalid settings:\n" + "\n".join(lines)) from None
