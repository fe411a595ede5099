"""Typed settings values: durations, the default rating and the rating map."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.config.values import settings, settings_error


def test_valid_values_give_settings_with_defaults() -> None:
    made = settings()

    assert made.okdesk_url == "https://acme.okdesk.ru/"
    assert made.okdesk_trigger_statuses == ["closed"]
    assert made.rating_timeout == timedelta(hours=24)
    assert made.default_rating == 5
    assert made.default_rating_when_undeliverable is False, "a person never asked is not rated"
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


@pytest.mark.parametrize("token", ["t" * 41, "has space", "plus+sign", "ампер"])
def test_a_bot_token_bitrix24_would_refuse_stops_the_start(token: str) -> None:
    assert "BITRIX_BOT_TOKEN" in settings_error(bitrix_api="v2", bitrix_bot_token=token)


def test_imbot_v2_needs_a_bot_token_and_no_public_url() -> None:
    assert "BITRIX_BOT_TOKEN is required" in settings_error(bitrix_api="v2", bitrix_bot_token="")
    made = settings(bitrix_api="v2", bitrix_bot_token="t" * 40, public_url="")
    assert made.fetches_events and made.public_url is None
    assert made.bot_token in made.secrets()


def test_polling_imbot_v2_more_than_once_a_second_stops_the_start() -> None:
    # It would take imbot.v2's whole 2 requests a second from the invitations.
    error = settings_error(bitrix_api="v2", bitrix_bot_token="t" * 40, bitrix_poll_interval="0.3s")
    assert "bitrix_poll_interval" in error.lower() and "at least 1s" in error
    assert settings(bitrix_poll_interval="1s").bitrix_poll_interval.total_seconds() == 1
