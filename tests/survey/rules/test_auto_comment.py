"""An automatic rating says so in Okdesk too (issue 10, point 5): a private comment on the
ticket, written by a queued job that is retried, never dropped. And the fake Okdesk's
comments endpoint, as okdesk.md §7 describes it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.engine import Engine

from bridge.okdesk.client import OkdeskClient
from bridge.survey.auto_comment import comment_text
from harness.app import running_app
from harness.constants import OKDESK_TOKEN
from harness.payloads import closed_webhook, rest_issue
from harness.vendors import Vendors, make_settings
from harness.waiting import eventually
from outbound.errors import RejectedError, TransientError
from sandbox.fakes.okdesk import FakeOkdesk
from storage.tables import JobKind, JobState, Survey, SurveyState
from tests.databases import jobs, surveys
from tests.fast.harness import ISSUE_ID, Service

pytestmark = pytest.mark.anyio

DAY = timedelta(days=1)
WHEN = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
TOKEN = {"api_token": OKDESK_TOKEN}


async def test_the_default_rating_gets_a_private_comment_saying_why(service: Service) -> None:
    service.close()
    await service.drain()
    await service.later(DAY)

    (comment,) = service.helpdesk.comments
    assert (comment.issue_id, comment.author_id, comment.author_type) == (ISSUE_ID, 52, "employee")
    assert comment.public is False
    assert "выставлена автоматически" in comment.content
    assert "не ответил" in comment.content and "24 ч" in comment.content
    assert "5 из 5 (good)" in comment.content


async def test_a_person_who_could_not_be_asked_is_named_as_the_reason(service: Service) -> None:
    service.messenger.users.clear()
    service.configure(
        language="en", okdesk_comment_author_id="7", default_rating_when_undeliverable=True
    )
    service.close()
    await service.drain()
    await service.later(DAY)
    (comment,) = service.helpdesk.comments
    assert comment.author_id == 7
    assert "could not be asked in Bitrix24" in comment.content


async def test_a_rating_given_by_a_person_gets_no_comment(service: Service) -> None:
    service.close()
    await service.drain()
    service.click(4)
    await service.later(DAY)
    assert service.rated() == ["good"] and service.helpdesk.comments == []


async def test_a_default_that_did_not_override_okdesk_gets_no_comment(service: Service) -> None:
    service.close()
    await service.drain()
    ticket = service.helpdesk.tickets[ISSUE_ID]

    service.helpdesk.tickets[ISSUE_ID] = replace(ticket, rate="bad")
    await service.later(DAY)
    assert service.helpdesk.comments == []


async def test_the_comment_can_be_switched_off(service: Service) -> None:
    service.configure(auto_rating_comment="off")
    service.close()
    await service.drain()
    await service.later(DAY)
    assert service.rated() == ["good"] and service.helpdesk.comments == []


async def test_a_failing_comment_is_retried_until_okdesk_takes_it(service: Service) -> None:
    service.helpdesk.fail("comment_issue", TransientError("HTTP 503"), TransientError("HTTP 502"))
    service.close()
    await service.drain()
    await service.later(DAY)
    assert service.helpdesk.comments == []
    for _ in range(4):
        await service.later(timedelta(minutes=1))
    assert len(service.helpdesk.comments) == 1
    assert service.survey().state == SurveyState.DEFAULTED


async def test_a_comment_already_on_the_ticket_is_not_posted_again(service: Service) -> None:
    service.close()
    await service.drain()
    # The first try reached Okdesk but its answer was lost: the retry finds it there.
    service.helpdesk.fail("comment_texts", TransientError("timed out"))
    await service.later(DAY)
    survey = service.survey()
    await service.helpdesk.comment_issue(
        ISSUE_ID, content=comment_text(survey, service.settings), author_id=52,
        author_type="employee", public=False,
    )  # fmt: skip
    for _ in range(3):
        await service.later(timedelta(minutes=1))
    assert len(service.helpdesk.comments) == 1
    (job,) = [j for j in service.jobs() if j.kind == JobKind.AUTO_COMMENT]
    assert job.state == JobState.DONE


async def test_a_lost_answer_posts_the_comment_once_though_okdesk_rewrote_its_html(
    service: Service,
) -> None:
    service.helpdesk.rewrite_html = True
    service.helpdesk.lose("comment_issue", TransientError("Okdesk comment: HTTP 504"))
    service.close()
    await service.drain()
    await service.later(DAY)
    for _ in range(3):
        await service.later(timedelta(minutes=1))
    (comment,) = service.helpdesk.comments
    assert comment.content.startswith("<p>") and "<br />" in comment.content
    (job,) = [j for j in service.jobs() if j.kind == JobKind.AUTO_COMMENT]
    assert job.state == JobState.DONE


async def test_a_refused_comment_stays_failed_for_the_administrator_the_rating_stands(
    service: Service,
) -> None:
    service.helpdesk.fail("comment_issue", RejectedError("Okdesk comment: HTTP 422"))
    service.close()
    await service.drain()
    await service.later(DAY)
    (job,) = [j for j in service.jobs() if j.kind == JobKind.AUTO_COMMENT]
    assert job.state == JobState.FAILED and "422" in (job.last_error or "")
    assert service.survey().state == SurveyState.DEFAULTED and service.rated() == ["good"]


async def test_through_okdesks_wire_the_comment_is_private_and_by_the_engineer(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    settings = make_settings(database_url, rating_timeout="1s")
    async with running_app(settings, vendors) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: bool(vendors.okdesk.comments.get(ISSUE_ID)), within=10)
    (comment,) = vendors.okdesk.comments[ISSUE_ID]
    assert comment["public"] is False and comment["author"] == {
        "id": 52,
        "name": None,
        "type": "employee",
    }
    assert "выставлена автоматически" in comment["content"]
    assert surveys(engine)[-1].engineer_id == 52
    assert all(job.state == JobState.DONE for job in jobs(engine))


# --- the fake Okdesk's comments, as okdesk.md §7 has them -----------------------------------


@pytest.fixture
def ok() -> FakeOkdesk:
    fake = FakeOkdesk(api_token=OKDESK_TOKEN)
    # The wire's shape, lenient readings (the strict ones: tests/okdesk/test_okdesk_readings.py).
    fake.readings.update({"rewrite_html": False, "contact_comments": "accepted"})
    fake.issues[1] = rest_issue(1)
    fake.contacts[11771] = {"id": 11771, "name": "Петров Иван"}
    return fake


async def test_the_fake_takes_wrapped_and_flat_comments_and_lists_them(ok: FakeOkdesk) -> None:
    transport = httpx.ASGITransport(app=ok.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://acme.okdesk.ru") as c:
        wrapped = {"comment": {"content": "a<br>b", "author_id": 52, "public": True}}
        first = await c.post("/api/v1/issues/1/comments", params=TOKEN, json=wrapped)
        flat = {"content": "x", "author_id": 11771, "author_type": "contact"}
        second = await c.post("/api/v1/issues/1/comments", params=TOKEN, json=flat)
        listed = (await c.get("/api/v1/issues/1/comments", params=TOKEN)).json()
    assert first.status_code == second.status_code == 200
    assert [(x["content"], x["public"], x["author"]["type"]) for x in listed] == [
        ("a<br>b", True, "employee"),
        ("x", False, "contact"),
    ]
    assert listed[1]["author"] == {"id": 11771, "name": "Петров Иван", "type": "contact"}
    assert set(listed[0]) == {"id", "content", "public", "attachments", "author", "published_at"}


async def test_the_fake_refuses_a_comment_without_author_or_content(ok: FakeOkdesk) -> None:
    transport = httpx.ASGITransport(app=ok.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://acme.okdesk.ru") as c:
        no_author = await c.post(
            "/api/v1/issues/1/comments", params=TOKEN, json={"comment": {"content": "x"}}
        )
        bad_type = await c.post(
            "/api/v1/issues/1/comments",
            params=TOKEN,
            json={"content": "x", "author_id": 1, "author_type": "robot"},
        )
        unknown = await c.post(
            "/api/v1/issues/9/comments", params=TOKEN, json={"content": "x", "author_id": 1}
        )
    assert no_author.status_code == 422
    assert no_author.json() == {"errors": {"author_id": ["отсутствует"]}}
    assert bad_type.status_code == 422 and "author_type" in bad_type.json()["errors"]
    assert unknown.status_code == 404
    assert ok.comments == {}


async def test_the_client_posts_the_documented_body_and_maps_a_refusal(ok: FakeOkdesk) -> None:
    transport = httpx.ASGITransport(app=ok.app)
    async with transport:
        client = OkdeskClient(transport, "https://acme.okdesk.ru", OKDESK_TOKEN, timeout=5)
        await client.comment_issue(
            1, content="<b>x</b>", author_id=52, author_type="employee", public=False
        )
        with pytest.raises(RejectedError, match="comment: HTTP 404"):
            await client.comment_issue(
                9, content="x", author_id=52, author_type="employee", public=False
            )
        ok.fail("comment", 503)
        with pytest.raises(TransientError):
            await client.comment_issue(
                1, content="x", author_id=52, author_type="employee", public=False
            )
        assert await client.comment_texts(1) == ["<b>x</b>"]
        assert await client.comment_texts(9) == []
    (comment,) = ok.comments[1]
    assert comment["content"] == "<b>x</b>" and comment["author"]["id"] == 52


@pytest.mark.parametrize(
    ("timeout", "language", "said"),
    [("30s", "ru", "за 30 с."), ("10m", "ru", "за 10 мин."), ("36h", "en", "within 36 h.")],
)
def test_the_comment_says_the_timeout_as_people_write_it(
    timeout: str, language: str, said: str
) -> None:
    settings = make_settings("sqlite://", rating_timeout=timeout, language=language)
    survey = Survey(
        id=3,
        token="t",
        issue_id=ISSUE_ID,
        state=SurveyState.DEFAULTED,
        score=5,
        message_id=9,
        language=language,
        created_at=WHEN,
        updated_at=WHEN,
    )
    assert said in comment_text(survey, settings)
