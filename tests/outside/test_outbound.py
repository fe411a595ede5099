"""Which failures of a vendor call are worth repeating, as both vendor clients read them."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from outbound.errors import TransientError
from outbound.transient import no_answer_is_transient, retry_after_seconds, transient_status


@pytest.mark.parametrize(
    ("status", "listed", "every_server_error"),
    [
        (408, True, True),
        (425, True, True),
        (429, True, True),
        (500, True, True),
        (502, True, True),
        (503, True, True),
        (504, True, True),
        (501, False, True),  # Bitrix24 documents its 5xx; Okdesk documents none
        (507, False, True),
        (599, False, True),
        (400, False, False),
        (401, False, False),
        (404, False, False),
        (422, False, False),
        (200, False, False),
    ],
)
def test_a_status_is_transient_when_listed_or_any_5xx_is_asked_for(
    status: int, listed: bool, every_server_error: bool
) -> None:
    assert transient_status(status) is listed
    assert transient_status(status, every_server_error=True) is every_server_error


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (httpx.ReadTimeout("timed out: https://portal.example/rest/1/secret/x"), "timed out"),
        (httpx.ConnectError("refused: https://okdesk.example/?api_token=t"), "unreachable"),
        (httpx.RemoteProtocolError("dropped"), "unreachable"),
    ],
)
def test_no_answer_is_a_transient_error_that_names_the_call_and_no_url(
    error: httpx.TransportError, said: str
) -> None:
    with pytest.raises(TransientError) as caught, no_answer_is_transient("Vendor method"):
        raise error
    assert str(caught.value).startswith(f"Vendor method: {said} (")
    assert "http" not in str(caught.value) and caught.value.__suppress_context__


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("-1", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
    ],
)
def test_retry_after_reads_seconds_or_an_http_date(
    header: str | None, seconds: float | None
) -> None:
    now = datetime(2015, 10, 21, 7, 28, tzinfo=UTC)
    assert retry_after_seconds(header, now) == seconds
