"""All settings of the service (pydantic-settings: environment variables and `.env`).

Every setting is documented in example.env. Durations accept seconds or a unit:
`90`, `30s`, `15m`, `24h`, `7d`.
"""

from __future__ import annotations

import re
import sys
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from bot.settings import PLACEHOLDER, BotSettings, SettingsError, check_base_url, load_settings

OkdeskRate = Literal["bad", "normal", "good"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> object:
    """`90`, `30s`, `15m`, `24h`, `7d` → timedelta (other types pass through to pydantic)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if not isinstance(value, str):
        return value
    match = _DURATION.match(value)
    if match is None:
        raise ValueError("must be seconds or a number with a unit s, m, h or d (e.g. 24h)")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2).lower()])


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def parse_optional_duration(value: object) -> object:
    """Like a duration, with `off` (or empty) meaning "never"."""
    if isinstance(value, str) and value.strip().lower() in ("off", "none", "no", "false", ""):
        return None
    return parse_duration(value)


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


class Settings(BotSettings):
    """Everything the service needs: storage, Okdesk, Bitrix24 (inherited), the workflow."""

    database_url: str = "sqlite:///./data/rating.db"

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
    # The portal installation events must come from (`auth[member_id]`). Empty: the first
    # authentic event's is kept and every later event must match it.
    bitrix_member_id: str | None = None
    # Surveys one sender may open per minute through the webhook; past it the webhook answers
    # 429 and reconciliation (which reads the real ticket list) picks the closures up later.
    webhook_surveys_per_minute: int = Field(default=600, ge=1)

    rating_timeout: Duration = timedelta(hours=24)
    default_rating: Annotated[int | None, BeforeValidator(parse_default_rating)] = Field(
        default=5, ge=1, le=5
    )
    default_rating_when_undeliverable: bool = True
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
    # Serve the intake routes' OpenAPI schema at /openapi.json (off: it maps the service).
    openapi_enabled: bool = False

    worker_enabled: bool = True
    worker_concurrency: int = Field(default=8, ge=1, le=64)
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
    # Closures older than this are never surveyed by reconciliation.
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

    @field_validator("metrics_token", "admin_token", mode="before")
    @classmethod
    def _token_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("bitrix_member_id", mode="before")
    @classmethod
    def _member_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("okdesk_url")
    @classmethod
    def _okdesk_url(cls, value: str) -> str:
        return check_base_url(value, "OKDESK_URL")

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
    )
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("must be longer than zero")
        return value

    @property
    def done_statuses(self) -> frozenset[str]:
        """Statuses in which a ticket is done (moves between them are not reopenings)."""
        if self.okdesk_done_statuses:
            return frozenset(self.okdesk_done_statuses)
        return frozenset({*self.okdesk_trigger_statuses, "completed", "closed"})

    def plain_http_urls(self) -> list[str]:
        """Names of base URLs that use plain http (allowed for local fakes, with a warning)."""
        okdesk = ["OKDESK_URL"] if self.okdesk_url.startswith("http://") else []
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


def settings_or_exit() -> Settings:
    """The service's settings, or exit 2 with a message naming every bad setting."""
    try:
        return load_settings(Settings)
    except SettingsError as exc:
        sys.stderr.write(f"{exc}\nSee example.env for what each setting means.\n")
        raise SystemExit(2) from None
