"""Each refusal of a portal step says the same thing in Russian and English, with the same
values filled in; the page's portal section reads in English too, and shows back neither a
webhook URL nor a notice the query names wrongly."""

from __future__ import annotations

import string

import pytest

from bridge.portals import section
from bridge.portals.directory import PortalLine
from bridge.portals.texts import EN, RU, PortalError
from storage.portals import PortalState


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


def _line(name: str, state: PortalState) -> PortalLine:
    return PortalLine(name, "acme.bitrix24.ru", state, None, 2, 1, 50)


def test_the_page_s_portal_section_reads_in_english_and_never_shows_a_webhook_url_back() -> None:
    lines = [_line("default", PortalState.ACTIVE), _line("acme", PortalState.REMOVED)]
    typed = {"form": "add", "name": "beta", "webhook_url": "https://b.example/rest/1/code0123/"}
    html = section.section(
        lines, form=lambda: ("1.n", "c"), language="en", problem="no", kept=typed
    )
    assert "Bitrix24 portals" in html and "Connect a portal" in html and "removed" in html
    assert 'name="webhook_url" value=""' in html and "code0123" not in html
    assert 'name="name" value="beta"' in html
    # A removed portal is in the table, and offered to no form.
    assert '<tr data-portal="acme"' in html and '<option value="acme"' not in html


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ({"done": "mapped", "name": "acme", "company": "7"}, "Company 7: its closures go to"),
        ({"done": "removed", "name": "acme", "cancelled": "3", "unregistered": "0"}, "removed"),
        ({"done": "mapped", "name": "<script>", "company": "7"}, None),
        ({"done": "mapped", "name": "acme", "company": "7; drop"}, None),
        ({"done": "nothing"}, None),
        ({}, None),
    ],
)
def test_a_form_s_notice_is_only_what_the_query_names_rightly(
    query: dict[str, str], said: str | None
) -> None:
    notice = section.notice_of(query, "en")
    assert (notice is None) if said is None else (notice is not None and said in notice)
