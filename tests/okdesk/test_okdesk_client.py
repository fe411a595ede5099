"""The Okdesk client: contacts, ratings, and its failures without leaking the API token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from bridge.okdesk.client import OkdeskClient
from harness.payloads import fixture_json
from outbound.errors import RejectedError, TransientError
from tests.bot.clients.wire import TOKEN, assert_no_secret_or_url, sent_json

pytestmark = pytest.mark.anyio
OKDESK = "https://acme.okdesk.ru"


@pytest.fixture
def okdesk(wire: httpx.AsyncBaseTransport) -> OkdeskClient:
    return OkdeskClient(wire, OKDESK, TOKEN, timeout=5)


@pytest.fixture
async def wire(router: respx.MockRouter) -> AsyncIterator[httpx.AsyncBaseTransport]:
    """httpx's own transport, its requests answered by `router`."""
    async with httpx.AsyncHTTPTransport() as transport:
        yield transport


# --- Okdesk: contacts ------------------------------------------------------------------------


def _contact(**changes: Any) -> dict[str, Any]:
    contact: dict[str, Any] = fixture_json("okdesk/contact_11771.json")
    contact.update(changes)
    return contact


@pytest.mark.parametrize("base", [OKDESK, OKDESK + "/", OKDESK + "//"])
async def test_contact_lookup_reads_the_email_by_id(
    router: respx.MockRouter, wire: httpx.AsyncBaseTransport, base: str
) -> None:
    route = router.get(f"{OKDESK}/api/v1/contacts/").mock(
        return_value=httpx.Response(200, json=fixture_json("okdesk/contact_11771.json"))
    )

    email = await OkdeskClient(wire, base, TOKEN, timeout=5).contact_email(11771)

    assert email == "i.petrov@romashka.example"
    sent = route.calls.last.request
    assert str(sent.url) == f"https://acme.okdesk.ru/api/v1/contacts/?id=11771&api_token={TOKEN}"
    assert sent.headers["user-agent"] == "okdesk-bitrix24-rating"
    assert sent.headers["accept"] == "application/json"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"email": None, "additional_emails": ["second@romashka.example"]},
            "second@romashka.example",
        ),
        (
            {"email": "", "additional_emails": ["second@romashka.example", "third@x.ru"]},
            "second@romashka.example",
        ),
        ({"email": "не указан", "additional_emails": [None, " third@x.ru "]}, "third@x.ru"),
        (
            {"email": None, "additional_emails": [], "cc_email": "cc@romashka.example"},
            "cc@romashka.example",
        ),
        (
            {"email": None, "additional_emails": None, "cc_email": "cc@romashka.example"},
            "cc@romashka.example",
        ),
        ({"email": None, "additional_emails": [], "cc_email": None}, None),
        ({"email": None, "additional_emails": []}, None),
        ({"email": "  I.Petrov@Romashka.example\n"}, "I.Petrov@Romashka.example"),
        ({"email": 12345, "cc_email": "cc@x.ru"}, "cc@x.ru"),
    ],
)
async def test_contact_email_falls_back_to_additional_then_cc(
    router: respx.MockRouter, okdesk: OkdeskClient, changes: dict[str, Any], expected: str | None
) -> None:
    router.get(f"{OKDESK}/api/v1/contacts/").mock(
        return_value=httpx.Response(200, json=_contact(**changes))
    )

    assert await okdesk.contact_email(11771) == expected


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(404, json={"errors": "Not found"}),
        httpx.Response(404, text=""),
        httpx.Response(200, json={}),
        httpx.Response(200, json=[]),
        httpx.Response(200, content=b"null", headers={"content-type": "application/json"}),
        httpx.Response(200, json=[{"id": 1, "email": "someone@x.ru"}]),
    ],
)
async def test_missing_contact_is_none(
    router: respx.MockRouter, okdesk: OkdeskClient, response: httpx.Response
) -> None:
    router.get(f"{OKDESK}/api/v1/contacts/").mock(return_value=response)

    assert await okdesk.contact_email(11771) is None


async def test_contact_lookup_answered_with_html_is_transient(
    router: respx.MockRouter, okdesk: OkdeskClient
) -> None:
    # A proxy's page says nothing about our request: try again later.
    router.get(f"{OKDESK}/api/v1/contacts/").mock(
        return_value=httpx.Response(200, text="<html>Войдите в систему</html>")
    )

    with pytest.raises(TransientError, match="without JSON"):
        await okdesk.contact_email(11771)


# --- Okdesk: the ticket's rating -------------------------------------------------------------


@pytest.mark.parametrize(
    ("issue", "expected"),
    [
        ({"id": 314599, "rate": {"id": 3, "value": "normal"}}, "normal"),
        ({"id": 314599, "rate": {"id": 1, "value": "good"}}, "good"),
        ({"id": 314599, "rate": None}, None),
        ({"id": 314599, "rate": "bad"}, "bad"),  # the webhook's shape
        ({"id": 314599, "rate": {"id": None, "value": None}}, None),
        ({"id": 314599, "rate": ""}, None),
        ({"id": 314599}, None),
        ([], None),
    ],
)
async def test_issue_rate_reads_rate_value(
    router: respx.MockRouter, okdesk: OkdeskClient, issue: Any, expected: str | None
) -> None:
    route = router.get(f"{OKDESK}/api/v1/issues/314599").mock(
        return_value=httpx.Response(200, json=issue)
    )

    assert await okdesk.issue_rate(314599) == expected
    assert dict(route.calls.last.request.url.params) == {"api_token": TOKEN}


async def test_rating_posts_both_body_shapes_with_the_token_in_the_query(
    router: respx.MockRouter, okdesk: OkdeskClient
) -> None:
    route = router.post(f"{OKDESK}/api/v1/issues/314599/rates").mock(
        return_value=httpx.Response(200, json={"id": 314599})
    )

    await okdesk.rate_issue(314599, "good")

    assert route.call_count == 1
    assert sent_json(route) == {"rate": "good", "issue": {"rate": "good"}}
    assert dict(route.calls.last.request.url.params) == {"api_token": TOKEN}


@pytest.mark.parametrize("response", [httpx.Response(204), httpx.Response(201, text="")])
async def test_rating_accepts_any_success_without_a_body(
    router: respx.MockRouter, okdesk: OkdeskClient, response: httpx.Response
) -> None:
    route = router.post(f"{OKDESK}/api/v1/issues/7/rates").mock(return_value=response)

    await okdesk.rate_issue(7, "bad")

    assert route.call_count == 1


# --- Okdesk: errors --------------------------------------------------------------------------


async def _call(okdesk: OkdeskClient, what: str) -> object:
    if what == "rating":
        await okdesk.rate_issue(314599, "good")
        return None
    if what == "ticket read":
        return await okdesk.issue_rate(314599)
    return await okdesk.contact_email(11771)


OKDESK_ROUTES = {
    "rating": ("POST", f"{OKDESK}/api/v1/issues/314599/rates"),
    "ticket read": ("GET", f"{OKDESK}/api/v1/issues/314599"),
    "contact lookup": ("GET", f"{OKDESK}/api/v1/contacts/"),
}


@pytest.mark.parametrize("what", list(OKDESK_ROUTES))
@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(422, json={"errors": {"rate": ["имеет неверное значение"]}}),
        httpx.Response(400, json={"errors": "bad request"}),
        httpx.Response(401, text="Вы не авторизованы для просмотра этой страницы"),
        httpx.Response(403, json={"errors": "Доступ запрещен"}),
    ],
)
async def test_okdesk_refusal_is_rejected(
    router: respx.MockRouter, okdesk: OkdeskClient, what: str, response: httpx.Response
) -> None:
    method, url = OKDESK_ROUTES[what]
    router.route(method=method, url__startswith=url).mock(return_value=response)

    with pytest.raises(RejectedError) as caught:
        await _call(okdesk, what)

    assert not isinstance(caught.value, TransientError)
    assert str(caught.value).startswith(f"Okdesk {what}: HTTP {response.status_code}")
    assert_no_secret_or_url(str(caught.value))


@pytest.mark.parametrize("what", list(OKDESK_ROUTES))
@pytest.mark.parametrize(
    ("response", "retry_after"),
    [
        (httpx.Response(500, text="Internal Server Error"), None),
        (httpx.Response(502, text="<html>nginx</html>"), None),
        (httpx.Response(503, headers={"Retry-After": "30"}), 30.0),
        (httpx.Response(429, headers={"Retry-After": "7"}), 7.0),
        (httpx.Response(429, headers={"Retry-After": "-1"}), None),
        (httpx.Response(408), None),
    ],
)
async def test_okdesk_busy_is_transient(
    router: respx.MockRouter,
    okdesk: OkdeskClient,
    what: str,
    response: httpx.Response,
    retry_after: float | None,
) -> None:
    method, url = OKDESK_ROUTES[what]
    router.route(method=method, url__startswith=url).mock(return_value=response)

    with pytest.raises(TransientError) as caught:
        await _call(okdesk, what)

    assert caught.value.retry_after == retry_after
    assert_no_secret_or_url(str(caught.value))


@pytest.mark.parametrize("what", list(OKDESK_ROUTES))
@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadTimeout(f"timed out: {OKDESK}/api/v1/issues/314599/rates?api_token={TOKEN}"),
        httpx.ConnectError(f"refused: {OKDESK}/?api_token={TOKEN}"),
        httpx.WriteTimeout("write timed out"),
    ],
)
async def test_okdesk_network_failure_is_transient_without_the_token(
    router: respx.MockRouter, okdesk: OkdeskClient, what: str, error: Exception
) -> None:
    method, url = OKDESK_ROUTES[what]
    router.route(method=method, url__startswith=url).mock(side_effect=error)

    with pytest.raises(TransientError) as caught:
        await _call(okdesk, what)

    assert str(caught.value).startswith(f"Okdesk {what}: ")
    assert_no_secret_or_url(str(caught.value))


async def test_okdesk_error_body_echoing_the_url_does_not_leak_the_token(
    router: respx.MockRouter, okdesk: OkdeskClient
) -> None:
    router.post(f"{OKDESK}/api/v1/issues/314599/rates").mock(
        return_value=httpx.Response(
            404, text=f"No route matches /api/v1/issues/314599/rates?api_token={TOKEN}"
        )
    )

    with pytest.raises(RejectedError) as caught:
        await okdesk.rate_issue(314599, "good")

    assert_no_secret_or_url(str(caught.value))
