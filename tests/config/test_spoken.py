"""Durations and the default rating, said as people say them (`admin check`, the sandbox)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bridge.admin.check import default_rating_said
from bridge.config.durations import spoken
from tests.config.values import settings


@pytest.mark.parametrize(
    ("seconds", "language", "said"),
    [
        (30, "ru", "30 с"),
        (600, "ru", "10 мин"),
        (86400, "ru", "24 ч"),
        (3600 * 24 * 7, "en", "7 d"),
        (3600 * 36, "en", "36 h"),
        (90, "en", "90 s"),
        (0.5, "en", "0.5 s"),
        (5400, "ru", "90 мин"),
    ],
)
def test_a_duration_is_said_in_its_largest_whole_unit(
    seconds: float, language: str, said: str
) -> None:
    assert spoken(timedelta(seconds=seconds), language) == said


@pytest.mark.parametrize(
    ("values", "said"),
    [
        (
            {},
            "5 (good in Okdesk, marked automatic) after 24 h without an answer; "
            "tickets whose person could not be asked are not rated",
        ),
        (
            {
                "default_rating": "2",
                "rating_timeout": "30m",
                "default_rating_when_undeliverable": "1",
            },
            "2 (bad in Okdesk, marked automatic) after 30 min without an answer; "
            "tickets whose person could not be asked are also rated",
        ),
        ({"default_rating": "off"}, "off: a survey nobody answers ends without a rating"),
    ],
)
def test_check_says_what_the_default_rating_does(values: dict[str, str], said: str) -> None:
    assert default_rating_said(settings(**values)) == said
