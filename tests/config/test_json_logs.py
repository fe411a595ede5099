"""LOG_FORMAT=json: one JSON object a line, with the same fields and the same masking as text."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Callable

from bridge.config.logs import setup_logging
from harness.constants import OKDESK_TOKEN, WEBHOOK_TOKEN
from harness.vendors import make_settings

FORGED = '{"time": "2024-01-01T00:00:00.000+00:00", "level": "INFO", "message": "forged"}'


def _logged(log_format: str, write: Callable[[logging.Logger], None]) -> list[str]:
    """What the service's logging writes for `write(log)`, as the service sets it up."""
    stream = io.StringIO()
    sys_stderr, sys.stderr = sys.stderr, stream
    try:
        setup_logging(make_settings("sqlite://", log_format=log_format))
    finally:
        sys.stderr = sys_stderr
    write(logging.getLogger("bridge.test"))
    return stream.getvalue().splitlines()


def _secrets_and_forgeries(log: logging.Logger) -> None:
    log.info("okdesk.webhook url=/api/v1/okdesk/webhook?token=%s", WEBHOOK_TOKEN)
    log.warning("okdesk.call api_token=%s person=ivan.petrov@example.com", OKDESK_TOKEN)
    log.info("okdesk.webhook title=%s", f"Касса\n{FORGED}")
    try:
        raise ValueError(f"failed with {OKDESK_TOKEN}\n{FORGED}")
    except ValueError:
        log.exception("job.crashed token=%s", WEBHOOK_TOKEN)


def test_each_json_line_parses_and_holds_no_secret(logging_state: None) -> None:
    lines = _logged("json", _secrets_and_forgeries)
    records = [json.loads(line) for line in lines]
    assert len(records) == 4
    assert all(set(r) >= {"time", "level", "logger", "message"} for r in records)
    assert [r["level"] for r in records] == ["INFO", "WARNING", "INFO", "ERROR"]
    assert {r["logger"] for r in records} == {"bridge.test"}
    assert records[0]["time"].endswith("+00:00")
    for line in lines:
        for secret in (WEBHOOK_TOKEN, OKDESK_TOKEN, "ivan.petrov@example.com"):
            assert secret not in line
    assert records[0]["message"] == "okdesk.webhook url=/api/v1/okdesk/webhook?token=***"
    assert records[1]["message"] == "okdesk.call api_token=*** person=<e-mail>"
    assert records[2]["message"] == f"okdesk.webhook title=Касса\\n{FORGED}"
    assert "ValueError: failed with ***" in records[3]["exception"]


def test_json_and_text_show_the_same_masked_message(logging_state: None) -> None:
    text = _logged("text", _secrets_and_forgeries)
    messages = [json.loads(line)["message"] for line in _logged("json", _secrets_and_forgeries)]
    records = [line for line in text if not line[:1].isspace()]
    assert len(records) == len(messages)
    for record, message in zip(records, messages, strict=True):
        assert record.endswith(f" bridge.test {message}")
