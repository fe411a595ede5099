"""Words people choose (issue 10, point 7): every text can be replaced from TEXTS_FILE (TOML),
checked at start; and a person's language comes from Bitrix24's events when they show one."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.events import RatingClick, parse_event
from bot.settings import SettingsError, load_settings
from bot.texts import messages
from bot.texts.texts_file import load_texts, placeholders
from bridge.config.settings import Settings
from bridge.survey import languages
from harness.app import running_app
from harness.constants import ISSUE_ID
from harness.payloads import click_body, closed_webhook, fixture_bytes, rest_issue
from harness.vendors import Vendors, make_settings
from harness.waiting import eventually
from storage.db import transaction
from storage.survey import asking
from storage.tables import ChatPerson, SurveyState, utcnow
from tests.databases import surveys
from tests.fast.harness import Service, fast_settings

pytestmark = pytest.mark.anyio

THANKS = """
[thanks]
ru = "Благодарим! Заявка №{number} получила {score}."
en = "Much obliged! Ticket #{number} got {score}."
"""


def _file(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "texts.toml"
    path.write_text(content, encoding="utf-8")
    return path


async def test_a_replaced_text_is_what_the_person_reads(service: Service, tmp_path: Path) -> None:
    service.configure(texts_file=str(_file(tmp_path, THANKS)))
    service.close()
    await service.drain()
    service.click(4)
    await service.drain()
    (invitation,) = service.chat()
    assert invitation.message.text == "Благодарим! Заявка №314599 получила 4."


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[thanks]\nru = "Спасибо, {number}: {score}"\n', "text 'thanks': the en text is missing"),
        (
            '[thanks]\nru = "Спасибо {score}"\nen = "Thanks {score} {number}"\n',
            "text 'thanks' (ru): placeholder {number} is missing",
        ),
        (
            '[expired]\nru = "{number} {name}"\nen = "{number}"\n',
            "text 'expired' (ru): unknown placeholder {name}",
        ),
        ('[expired]\nru = "{number}"\nen = "{}"\n', "text 'expired' (en): unknown placeholder {}"),
        ('[thank_you]\nru = "x"\nen = "y"\n', "unknown text 'thank_you'"),
        ('[expired]\nru = "{number}"\nen = "{number}"\nde = "{number}"\n', "unknown language 'de'"),
        ('expired = "{number}"\n', "text 'expired' must be a table with ru and en"),
        ('[expired]\nru = "{number"\nen = "{number}"\n', "text 'expired' (ru): "),
        ("[expired\n", "is not valid TOML"),
    ],
)
def test_a_texts_file_with_a_fault_refuses_the_start_naming_the_text(
    tmp_path: Path, content: str, message: str
) -> None:
    path = _file(tmp_path, content)
    with pytest.raises(SettingsError) as refused:
        load_settings(Settings, **_base(texts_file=str(path)))
    assert "TEXTS_FILE: " in str(refused.value) and message in str(refused.value)


def test_a_missing_texts_file_refuses_the_start(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="TEXTS_FILE: cannot read"):
        load_settings(Settings, **_base(texts_file=str(tmp_path / "nowhere.toml")))


def test_texts_file_off_or_empty_means_the_built_in_texts() -> None:
    assert fast_settings("sqlite://", texts_file="off").chosen_texts() == {}
    assert fast_settings("sqlite://", texts_file="").texts_file is None


def test_only_the_replaced_texts_change(tmp_path: Path) -> None:
    chosen = load_texts(_file(tmp_path, THANKS))
    messages.use_texts(chosen)
    assert messages.text("thanks", "en", number=1, score=5) == "Much obliged! Ticket #1 got 5."
    assert messages.text("expired", "en", number=1) == "The time for rating ticket #1 has passed."


@pytest.mark.parametrize("key", sorted(messages.builtin_texts()))
def test_every_built_in_text_has_both_languages_with_the_same_placeholders(key: str) -> None:
    texts = messages.builtin_texts()[key]
    assert set(texts) == {"ru", "en"}
    assert placeholders(texts["ru"]) == placeholders(texts["en"])


def _base(**values: str) -> dict[str, str]:
    settings = fast_settings("sqlite://")
    return {
        "database_url": "sqlite://",
        "okdesk_url": settings.okdesk_url,
        "okdesk_api_token": "okdesk-test-token",
        "okdesk_webhook_token": "okdesk-webhook-secret-0123456789",
        "bitrix_webhook_url": settings.bitrix_webhook_url,
        "bitrix_client_id": "rating-bot-acme",
        "bitrix_events_token": "bitrix-events-secret-0123456789",
        "_env_file": None,  # type: ignore[dict-item]
        **values,
    }


# --- a person's language ------------------------------------------------------------------


def test_events_carry_the_language_bitrix24_shows() -> None:
    click = click_body("token:4").replace(b"LANGUAGE%5D=ru", b"LANGUAGE%5D=en")
    (event,) = parse_event(click).events
    assert isinstance(event, RatingClick) and event.language == "en"
    (joined,) = parse_event(fixture_bytes("bitrix24/ONIMBOTJOINCHAT_private.form")).events
    assert joined.language == "ru"  # type: ignore[union-attr]


def _in(language: str, body: bytes) -> bytes:
    return body.replace(b"LANGUAGE%5D=ru", b"LANGUAGE%5D=" + language.encode())


async def test_a_click_in_english_is_thanked_in_english_and_the_next_invitation_too(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    async with running_app(make_settings(database_url), vendors) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: surveys(engine)[-1].state == SurveyState.AWAITING)
        assert "Оцените" in vendors.calls("imbot.message.add")[0]["MESSAGE"]
        await app.event(_in("en", click_body(f"{surveys(engine)[-1].token}:5")))
        await eventually(lambda: len(vendors.calls("imbot.message.update")) == 1)
        assert "Thank you" in vendors.calls("imbot.message.update")[0]["MESSAGE"]

        vendors.okdesk.issues[ISSUE_ID + 1] = rest_issue(ISSUE_ID + 1)
        await app.webhook(closed_webhook(ISSUE_ID + 1))
        await eventually(lambda: len(vendors.calls("imbot.message.add")) == 2)
    assert "How did we do?" in vendors.calls("imbot.message.add")[1]["MESSAGE"]
    assert surveys(engine)[-1].language == "en"


async def test_a_language_the_bot_does_not_speak_leaves_language_in_charge(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    async with running_app(make_settings(database_url, language="en"), vendors) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: surveys(engine)[-1].state == SurveyState.AWAITING)
        await app.event(_in("de", click_body(f"{surveys(engine)[-1].token}:5")))
        await eventually(lambda: len(vendors.calls("imbot.message.update")) == 1)
    assert "Thank you" in vendors.calls("imbot.message.update")[0]["MESSAGE"]
    assert surveys(engine)[-1].language == "en"


def test_what_events_showed_about_a_person_is_forgotten_after_the_retention(
    engine: Engine,
) -> None:
    now = utcnow()
    with transaction(engine) as session:
        asking.remember_language(session, bitrix_user_id=27, language="en", now=now)
        asking.remember_language(
            session, bitrix_user_id=28, language="ru", now=now - timedelta(days=40)
        )
        assert asking.known_languages(session, bitrix_user_ids=[27, 28, 29]) == {27: "en", 28: "ru"}
        assert asking.forget_people(session, seen_before=now - timedelta(days=30)) == 1
        assert asking.known_languages(session, bitrix_user_ids=[27, 28]) == {27: "en"}


def test_a_language_seen_again_is_only_read_a_changed_one_is_written_at_once(
    engine: Engine,
) -> None:
    """Every click carries the person's language: one stored already, and seen within the
    hour, needs no write; a new language is kept at once, and their waiting surveys speak it."""
    now = utcnow()
    languages.remember(engine, 27, "en", now - timedelta(minutes=30))
    languages.remember(engine, 27, "en", now)
    with transaction(engine) as session:
        person = session.get(ChatPerson, 27)
        assert person is not None and person.language == "en"
        assert person.seen_at == now - timedelta(minutes=30)  # read, not written again
    languages.remember(engine, 27, "en", now + languages.SEEN_AGAIN)
    languages.remember(engine, 27, "ru", now + languages.SEEN_AGAIN)
    with transaction(engine) as session:
        person = session.get(ChatPerson, 27)
        assert person is not None and person.language == "ru"
        assert person.seen_at == now + languages.SEEN_AGAIN
