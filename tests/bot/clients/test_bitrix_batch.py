"""The batch call: the keys it sends, the limit per request and both shapes of its answer."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from bot.client import BitrixClient
from bot.wire import BatchParts
from harness.payloads import fixture_json
from outbound.errors import RejectedError, TransientError
from tests.bot.clients.wire import CLIENT_ID, WEBHOOK, batch_answer, ok, sent_json

pytestmark = pytest.mark.anyio


async def test_batch_sends_non_numeric_keys_and_maps_the_callers_keys_back(
    router: respx.MockRouter, bitrix: BitrixClient
) -> None:
    route = router.post(f"{WEBHOOK}batch").mock(
        return_value=batch_answer(
            result={"c0": 90001, "c2": 90002},
            result_error={"c1": {"error": "DIALOG_ID_EMPTY", "error_description": "empty"}},
        )
    )
    calls = {
        "0": ("imbot.message.add", {"BOT_ID": 567, "DIALOG_ID": "27", "MESSAGE": "a"}),
        "1": ("imbot.message.add", {"BOT_ID": 567, "DIALOG_ID": "", "MESSAGE": "b"}),
        "2": ("imbot.message.add", {"BOT_ID": 567, "DIALOG_ID": "28", "MESSAGE": "c"}),
    }

    answers = await bitrix.batch(calls)

    commands = sent_json(route)["cmd"]
    assert list(commands) == ["c0", "c1", "c2"]
    assert commands["c0"] == (
        f"imbot.message.add?BOT_ID=567&DIALOG_ID=27&MESSAGE=a&CLIENT_ID={CLIENT_ID}"
    )
    assert answers["0"] == 90001 and answers["2"] == 90002
    assert isinstance(answers["1"], RejectedError) and answers["1"].code == "DIALOG_ID_EMPTY"


async def test_batch_of_more_than_fifty_starts_the_names_again_per_request(
    router: respx.MockRouter, bitrix: BitrixClient
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        keys = json.loads(request.content)["cmd"]
        return batch_answer(result={key: f"done {key}" for key in keys})

    route = router.post(f"{WEBHOOK}batch").mock(side_effect=answer)
    calls = {str(i): ("user.get", {"ID": i}) for i in range(60)}

    answers = await bitrix.batch(calls)

    assert route.call_count == 2
    assert answers["49"] == "done c49" and answers["50"] == "done c0"
    assert len(answers) == 60


@pytest.mark.parametrize(
    ("fixture", "keys"),
    [("batch_numeric_keys_list.json", ["0", "1"]), ("batch_gap_in_keys_object.json", ["0", "2"])],
)
def test_both_shapes_of_every_batch_map_are_read(fixture: str, keys: list[str]) -> None:
    parts = BatchParts.read(fixture_json(f"bitrix24/{fixture}")["result"])

    assert sorted(parts.result) == keys == sorted(parts.time)
    assert all(parts.time[key]["duration"] == 0.02 for key in keys)
    assert parts.next == {}


def test_the_list_fixture_reads_users_totals_and_no_errors() -> None:
    parts = BatchParts.read(fixture_json("bitrix24/batch_numeric_keys_list.json")["result"])

    assert [parts.result[key][0]["ID"] for key in ("0", "1")] == ["27", "28"]
    assert parts.total == {"0": 1, "1": 1}
    assert parts.error == {}


def test_the_gap_fixture_reads_the_failed_call_as_an_error() -> None:
    parts = BatchParts.read(fixture_json("bitrix24/batch_gap_in_keys_object.json")["result"])

    assert parts.result == {"0": 90001, "2": 90002}
    assert parts.error["1"]["error"] == "DIALOG_ID_EMPTY"
    assert parts.total == {}


@pytest.mark.parametrize("answer", [None, [], "batch", {"result": None}])
async def test_batch_answer_without_maps_leaves_every_call_transient(
    router: respx.MockRouter, bitrix: BitrixClient, answer: Any
) -> None:
    router.post(f"{WEBHOOK}batch").mock(return_value=ok(answer))

    answers = await bitrix.batch({"a": ("user.get", {}), "b": ("user.get", {})})

    assert all(isinstance(a, TransientError) for a in answers.values())
