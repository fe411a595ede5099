"""Each refusal of a portal step says the same thing in Russian and English, with the same
values filled in."""

from __future__ import annotations

import string

import pytest

from bridge.portals.texts import EN, RU, PortalError


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_refusal_is_written_in_both_languages_with_the_same_values() -> None:
    assert set(RU) == set(EN)
    assert {k: _fields(v) for k, v in RU.items()} == {k: _fields(v) for k, v in EN.items()}


@pytest.mark.parametrize(
    ("error", "ru", "en"),
    [
        (PortalError("no_portal", name="acme"), "Портала с именем 'acme' нет", "no portal named"),
        (PortalError("not_mapped", company=7), "Компания 7 не привязана", "company 7 is not"),
    ],
)
def test_a_refusal_is_one_line_in_the_language_asked(error: PortalError, ru: str, en: str) -> None:
    assert ru in error.said("ru") and en in error.said("en") and en in str(error)
    assert "\n" not in error.said("ru") + error.said("en")
