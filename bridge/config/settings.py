"""All settings of the service (pydantic-settings: environment variables and `.env`).

Every setting is documented in example.env. Durations accept seconds or a unit:
`90`, `30s`, `15m`, `24h`, `7d`.
"""

from __future__ import annotations

import ipaddress
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from bot.settings import (
    PLACEHOLDER,
    SettingsError,
    check_base_url,
    load_settings,
    plain_over_network,
)
from bot.texts.messages import Language
from bot.texts.texts_file import load_texts
from bridge.config.durations import Duration, parse_optional_duration
from bridge.config.portal_settings import PortalSettings
from storage.db import unsupported_kind
from storage.migrate import DEFAULT_DATABASE_URL

OkdeskRate = Literal["bad", "normal", "good"]


def parse_rating_map(value: object) -> object:
    """`1:bad,2:bad,3:normal,4:good,5:good` → {1: "bad", ...}."""
    if not isinstance(value, str):
        return value
    mapping: dict[int, str] = {}
    for item in value.split(","):
        score, sep, rate = item.partition(":")
        if not sep or not score.strip().isdigit():
            raise ValueError("must look like 1:bad,2:bad,3:normal,4:good,5:good")
        mapping[int(score)] = rate.strip().lower()
    return mapping


def parse_default_rating(value: object) -> object:
    """`off` (or empty) disables the default rating; otherwise a score 1–5."""
    if isinstance(value, str) and value.strip().lower() in ("off", "none", "no", "false", ""):
        return None
    return value


def parse_statuses(value: object) -> object:
    """`closed,completed` → ["closed", "completed"]."""
    if isinstance(value, str):
        return [s.strip() for s in value.split(",") if s.strip()]
    return value


def parse_proxies(value: object) -> object:
    """`10.0.0.1, 10.1.0.0/16` → ["10.0.0.1", "10.1.0.0/16"], each an address or a network."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        for part in value:
            ipaddress.ip_network(str(part), strict=False)  # ValueError names the bad one
    return value


class Settings(PortalSettings):
    """Everything the service needs: storage, Okdesk, Bitrix24 (inherited), the workflow."""

    database_url: str = DEFAULT_DATABASE_URL

    okdesk_url: str
    okdesk_api_token: SecretStr = Field(min_length=4)
    okdesk_webhook_token: SecretStr = Field(min_length=16)
    okdesk_trigger_statuses: Annotated[list[str], NoDecode, BeforeValidator(parse_statuses)] = (
        Field(default=["closed"], min_length=1)
    )
    # Statuses in which a ticket counts as done: a move between them is not a reopening.
    # Empty means the trigger statuses plus `completed` and `closed`.
    okdesk_done_statuses: Annotated[list[str], NoDecode, BeforeValidator(parse_statuses)] = Field(
        default=[]
    )
    # Surveys one sender may open per minute through the webhook; past it the webhook answers
    # 429 and reconciliation (which reads the real ticket list) picks the closures up later.
    webhook_surveys_per_minute: int = Field(default=600, ge=1)

    rating_timeout: Duration = timedelta(hours=24)
    default_rating: Annotated[int | None, BeforeValidator(parse_default_rating)] = Field(
        default=5, ge=1, le=5
    )
    default_rating_when_undeliverable: bool = False
    rating_map: Annotated[dict[int, OkdeskRate], NoDecode, BeforeValidator(parse_rating_map)] = (
        Field(default={1: "bad", 2: "bad", 3: "normal", 4: "good", 5: "good"})
    )

    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Slow or greedy clients: a request head and a body must each arrive within their timeout,
    # and at most HTTP_MAX_CONNECTIONS connections are served at once (503 past it).
    http_head_timeout: Duration = timedelta(seconds=10)
    http_body_timeout: Duration = timedelta(seconds=10)
    http_max_connections: int = Field(default=1000, ge=2)
    http_backlog: int = Field(default=256, ge=1)
    # Connections one client address may hold at once (past it, refused); not for a proxy.
    http_max_connections_per_client: int = Field(default=200, ge=1)
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (IPs or networks).
    # Empty: nobody's, so a client is always the address that connected.
    trusted_proxies: Annotated[list[str], NoDecode, BeforeValidator(parse_proxies)] = Field(
        default=[]
    )
    # Serve the intake routes' OpenAPI schema at /openapi.json (off: it maps the service).
    openapi_enabled: bool = False

    worker_enabled: bool = True
    # Requests in flight at once to Okdesk, and to each Bitrix24 portal (one process); each
    # lane is sized from them.
    okdesk_max_in_flight: int = Field(default=256, ge=1, le=256)
    bitrix_max_in_flight: int = Field(default=8, ge=1, le=64)
    worker_poll_interval: Duration = timedelta(seconds=0.5)
    job_lease: Duration = timedelta(minutes=2)
    retry_base: Duration = timedelta(seconds=2)
    retry_cap: Duration = timedelta(minutes=15)
    retry_give_up_after: Duration = timedelta(hours=72)
    http_timeout: Duration = timedelta(seconds=15)

    # imbot.v2 fetch mode: how often to ask for events when none were waiting.
    bitrix_poll_interval: Duration = timedelta(seconds=5)
    bitrix_burst: int = Field(default=50, ge=1)
    bitrix_requests_per_second: float = Field(default=2.0, gt=0)

    personal_data_retention: Duration = timedelta(days=30)
    shutdown_grace: Duration = timedelta(seconds=10)

    reconcile_interval: Annotated[timedelta | None, BeforeValidator(parse_optional_duration)] = (
        timedelta(minutes=10)
    )
    reconcile_lookback: Duration = timedelta(days=1)
    # Closures older than this are never surveyed: by reconciliation, or by a closure webhook
    # for a ticket Okdesk shows completed this long before the webhook (issue 23.9).
    reconcile_max_age: Duration = timedelta(days=3)
    # While Bitrix24 blocks the portal (OVERLOAD_LIMIT), how often one request probes it.
    bitrix_block_probe_interval: Duration = timedelta(minutes=10)
    # Short bot replies (hints, "not yours", ...) to one person, at most per minute.
    replies_per_minute: int = Field(default=5, ge=1)

    # /metrics (Prometheus) asks for `Authorization: Bearer <METRICS_TOKEN>` when it is set.
    metrics_token: SecretStr | None = Field(default=None, min_length=16)
    # `json`: one JSON object a line (time, level, logger, message), masked like `text`.
    log_format: Literal["text", "json"] = "text"
    # The report page /admin and its export: the password (HTTP Basic, any user name) or
    # bearer token. Unset: the routes do not exist.
    admin_token: SecretStr | None = Field(default=None, min_length=16)

    # --- follow-up and change of mind ---
    # A score at or below this is followed by "what went wrong?" (`off`: never asked).
    followup_max_score: Annotated[int | None, BeforeValidator(parse_default_rating)] = Field(
        default=3, ge=1, le=5
    )
    # How long the person's next message counts as the answer to that question.
    followup_window: Duration = timedelta(hours=24)
    # Also ask "anything to add?" after a score above FOLLOWUP_MAX_SCORE.
    followup_on_high: bool = False
    # The answer goes to the Okdesk ticket as the contact's comment: public, or private.
    followup_comment_public: bool = False
    # How long the thank-you carries «Изменить оценку» (`off`: no button).
    change_window: Annotated[timedelta | None, BeforeValidator(parse_optional_duration)] = (
        timedelta(hours=1)
    )

    @field_validator("metrics_token", "admin_token", mode="before")
    @classmethod
    def _token_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("okdesk_url")
    @classmethod
    def _okdesk_url(cls, value: str) -> str:
        return check_base_url(value, "OKDESK_URL")

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        why_not = unsupported_kind(value)
        if why_not is not None:
            raise ValueError(why_not)
        return value

    @field_validator("rating_map")
    @classmethod
    def _complete_map(cls, value: dict[int, OkdeskRate]) -> dict[int, OkdeskRate]:
        if sorted(value) != [1, 2, 3, 4, 5]:
            raise ValueError("must give an Okdesk rate for each score 1 to 5")
        return value

    @field_validator(
        "rating_timeout",
        "job_lease",
        "worker_poll_interval",
        "bitrix_poll_interval",
        "http_timeout",
        "reconcile_interval",
        "retry_base",
        "retry_cap",
        "bitrix_block_probe_interval",
        "http_head_timeout",
        "http_body_timeout",
        "followup_window",
        "change_window",
    )
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("must be longer than zero")
        return value

    @field_validator("bitrix_poll_interval")
    @classmethod
    def _leaves_room_to_invite(cls, value: timedelta) -> timedelta:
        # imbot.v2 allows 2 requests a second, shared with the invitations: polling more often
        # than once a second would take the whole budget and starve them.
        if value < timedelta(seconds=1):
            raise ValueError("must be at least 1s (imbot.v2 allows 2 requests a second)")
        return value

    # The survey rules' own fields are in bridge.config.survey_settings.
    @model_validator(mode="after")
    def _rules_fit_the_timeout(self) -> Settings:
        delay = self.reminder_delay
        if delay is not None and self.default_rating is not None and delay >= self.rating_timeout:
            raise ValueError("REMINDER_AFTER must be shorter than RATING_TIMEOUT (or off)")
        cooldown = self.survey_cooldown
        if cooldown is not None and cooldown > self.personal_data_retention:
            # Who was asked is forgotten with the personal data: a longer cooldown cannot hold.
            raise ValueError("SURVEY_COOLDOWN must not exceed PERSONAL_DATA_RETENTION")
        return self

    @property
    def reminder_delay(self) -> timedelta | None:
        """How long after a closure its one reminder goes; None when reminders are off."""
        if self.reminder_after is False:
            return None
        if isinstance(self.reminder_after, timedelta):
            return self.reminder_after
        return self.rating_timeout / 2

    def chosen_texts(self) -> dict[str, dict[Language, str]]:
        """The texts TEXTS_FILE replaces (checked when the settings were read)."""
        return {} if self.texts_file is None else load_texts(self.texts_file)

    @property
    def done_statuses(self) -> frozenset[str]:
        """Statuses in which a ticket is done (moves between them are not reopenings)."""
        if self.okdesk_done_statuses:
            return frozenset(self.okdesk_done_statuses)
        return frozenset({*self.okdesk_trigger_statuses, "completed", "closed"})

    def plain_http_urls(self) -> list[str]:
        """Names of base URLs that use plain http (allowed for local fakes, with a warning)."""
        okdesk = ["OKDESK_URL"] if plain_over_network(self.okdesk_url) else []
        return [*super().plain_http_urls(), *okdesk]

    def placeholders(self) -> list[str]:
        """Names of settings still holding the example values of example.env."""
        values = {
            "OKDESK_URL": self.okdesk_url,
            "OKDESK_API_TOKEN": self.okdesk_api_token.get_secret_value(),
            "OKDESK_WEBHOOK_TOKEN": self.okdesk_webhook_token.get_secret_value(),
        }
        mine = [name for name, value in values.items() if PLACEHOLDER.search(value)]
        return [*super().placeholders(), *mine]

    def secrets(self) -> list[str]:
        """Every secret value, for the log filter that hides them."""
        values = (
            self.okdesk_api_token,
            self.okdesk_webhook_token,
            self.metrics_token,
            self.admin_token,
        )
        return [*super().secrets(), *(v.get_secret_value() for v in values if v is not None)]


def settings_or_exit(env_file: str | None = None) -> Settings:
    """The service's settings (from `env_file` instead of ./.env when given), or exit 2 with a
    message naming every bad setting."""
    try:
        if env_file is not None:
            if not Path(env_file).is_file():
                raise SettingsError(f"--env-file {env_file}: no such file")
            return load_settings(Settings, _env_file=env_file)
        return load_settings(Settings)
    except SettingsError as exc:
        sys.stderr.write(f"{exc}\nSee example.env for what each setting means.\n")
        raise SystemExit(2) from None
