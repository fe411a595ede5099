"""Finding a Bitrix24 user by e-mail and the bot by its code: the filters sent, the answers read."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from bot.batching.shared import SharedCalls
from bot.client import BitrixClient
from bot.users import BitrixUser
from harness.payloads import fixture_json
from outbound.errors import RejectedError
from tests.bot.clients.wire import CLIENT_ID, WEBHOOK, batch_answer, ok, sent_json

pytestmark = pytest.mark.anyio


# --- Bitrix24: users by e-mail ---------------------------------------------------------------


async def test_user_lookup_posts_the_email_filter_as_json(
    router: respx.MockRouter, bitrix: BitrixClient
) -> None:
    route = router.post(f"{WEBHOOK}user.get").mock(
        return_value=httpx.Response(200, json=fixture_json("bitrix24/user_get_by_email.json"))
    )

    users = await bitrix.find_users_by_email("i.petrov@romashka.example")

    assert users == [BitrixUser(id=27, email="i.petrov@romashka.example", active=True)]
    assert str(route.calls.last.request.url) == "https://acme.bitrix24.ru/rest/1/hooktoken/user.get"
    body = sent_json(route)
    assert body["FILTER"] == {"EMAIL": "i.petrov@romashka.example", "ACTIVE": True}
    # Without ADMIN_MODE user.get hides extranet users outside the owner's groups (§7).
    assert body["ADMIN_MODE"] is True
    assert "EMAIL" in body["select"]


def _user(uid: str, email: str | None, active: Any = True) -> dict[str, Any]:
    return {"ID": uid, "EMAIL": email, "ACTIVE": active, "USER_TYPE": "employee"}


@pytest.mark.parametrize(
    ("asked", "listed", "ids"),
    [
        ("I.Petrov@Romashka.example", [_user("27", "i.petrov@romashka.example")], [27]),
        (" i.petrov@romashka.example ", [_user("27", "I.PETROV@ROMASHKA.EXAMPLE ")], [27]),
        # The scope dropped the filter: every user comes back, only the match is kept.
        (
            "i.petrov@romashka.example",
            [_user("1", "admin@acme.example"), _user("27", "i.petrov@romashka.example")],
            [27],
        ),
        ("i.petrov@romashka.example", [_user("31", "someone.else@romashka.example")], []),
        ("i.petrov@romashka.example", [_user("27", "i.petrov@romashka.example", False)], []),
        ("i.petrov@romashka.example", [_user("27", "i.petrov@romashka.example", "N")], []),
        ("i.petrov@romashka.example", [_user("27", "i.petrov@romashka.example", "Y")], [27]),
        ("i.petrov@romashka.example", [_user("27", None)], []),
        (
            "i.petrov@romashka.example",
            [_user("27", "i.petrov@romashka.example"), _user("44", "I.Petrov@romashka.example")],
            [27, 44],
        ),
    ],
)
async def test_user_lookup_rechecks_email_and_activity(
    router: respx.MockRouter, bitrix: BitrixClient, asked: str, listed: list[Any], ids: list[int]
) -> None:
    router.post(f"{WEBHOOK}user.get").mock(return_value=ok(listed))

    users = await bitrix.find_users_by_email(asked)

    assert [u.id for u in users] == ids


@pytest.mark.parametrize("result", [[], None, ["27"], {}])
async def test_user_lookup_with_nothing_usable_finds_nobody(
    router: respx.MockRouter, bitrix: BitrixClient, result: Any
) -> None:
    router.post(f"{WEBHOOK}user.get").mock(return_value=ok(result))

    assert await bitrix.find_users_by_email("i.petrov@romashka.example") == []


# --- Bitrix24: the bot list ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ([], None),  # PHP's empty array
        ({"567": {"ID": 567, "NAME": "Оценка", "CODE": "okdesk_rating", "OPENLINE": "N"}}, 567),
        (
            {
                "39": {"ID": "39", "CODE": "newbot"},
                "567": {"ID": "567", "CODE": "okdesk_rating"},
            },
            567,
        ),
        ({"39": {"ID": 39, "CODE": "newbot"}}, None),
        ([{"ID": 12, "CODE": "okdesk_rating"}], 12),
        (None, None),
    ],
)
async def test_bot_id_is_found_by_code_in_array_or_object(
    router: respx.MockRouter, bitrix: BitrixClient, result: Any, expected: int | None
) -> None:
    route = router.post(f"{WEBHOOK}imbot.bot.list").mock(return_value=ok(result))

    assert await bitrix.bot_id_by_code("okdesk_rating") == expected
    # Every imbot.* call of a webhook bot carries its CLIENT_ID, the list included.
    assert sent_json(route) == {"CLIENT_ID": CLIENT_ID}


async def test_user_lookups_in_a_batch_ask_for_extranet_users_the_way_php_reads_it(
    router: respx.MockRouter, bitrix: BitrixClient
) -> None:
    route = router.post(f"{WEBHOOK}batch").mock(
        return_value=batch_answer(
            result={"c0": [_user("27", "a@x.ru")], "c1": [_user("28", "b@x.ru")]},
            result_total={"c0": 1, "c1": 1},
        )
    )

    found = await SharedCalls(bitrix).find_users_by_emails({"0": "a@x.ru", "1": "B@x.ru"})

    ids = {key: [u.id for u in users] for key, users in found.items() if isinstance(users, list)}
    assert ids == {"0": [27], "1": [28]}
    query = sent_json(route)["cmd"]["c0"]
    # USERAPI reads ADMIN_MODE as PHP truthiness and FILTER[ACTIVE] as "Y".
    assert "&ADMIN_MODE=Y&" in query and "FILTER[ACTIVE]=Y" in query
    assert "FILTER[EMAIL]=a%40x.ru" in query


@pytest.mark.parametrize("total", [120, None])
async def test_a_lookup_answering_more_than_a_page_says_the_filter_was_dropped(
    router: respx.MockRouter, bitrix: BitrixClient, total: int | None
) -> None:
    page = [_user(str(i), f"u{i}@x.ru") for i in range(1, 51)]
    body: dict[str, Any] = {"result": page, "next": 50, "time": {}}
    if total is not None:
        body["total"] = total
    router.post(f"{WEBHOOK}user.get").mock(return_value=httpx.Response(200, json=body))

    with pytest.raises(RejectedError, match="user_basic") as caught:
        await bitrix.find_users_by_email("u1@x.ru")

    assert str(total or "many") in str(caught.value)
