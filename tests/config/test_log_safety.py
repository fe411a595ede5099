"""The log filter in time linear in what it reads, masking once, cutting and escaping.

A request path of 32 KB once stalled the whole service for seconds: the e-mail pattern
backtracked quadratically on long runs of letters, on the event loop, for every access-log
line. These tests feed the filter texts of 200 KB and show that a cut never leaves half a
secret and that a newline in a logged value cannot start a forged log line.
"""

from __future__ import annotations

import io
import json
import logging
import re
import subprocess
import sys
import time
from typing import Any
from urllib.parse import quote_plus

from hypothesis import given, settings
from hypothesis import strategies as st

import bridge.config.logs
from bridge.config.logs import (
    MAX_ARGUMENT,
    MAX_MESSAGE,
    SCAN_ARGUMENT,
    Redactor,
    install_redaction,
    mask_emails,
    safe_message,
    setup_logging,
)
from harness.constants import ROOT
from harness.vendors import make_settings

OLD_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
SECRET = "sntl-okdesk-hook-9a3f60e2d8"
CLIENT_ID = "Zm9v+YmFy/c2VudGluZWwtY2lk="
SIZE = 200_000
FORGED = "2024-01-01 00:00:00,000 INFO bridge forged.line"

# The child masks each text and answers with what it made and how long that took.
CHILD = """
import json, sys, time
from bridge.config.logs import Redactor
redact = Redactor([sys.argv[1]])
answers = {}
for name, text in json.load(sys.stdin).items():
    start = time.perf_counter()
    masked = redact(text)
    answers[name] = [time.perf_counter() - start, masked]
json.dump(answers, sys.stdout)
"""


def _long_texts() -> dict[str, tuple[str, str]]:
    """name: (text, the text masked)."""
    return {
        "letters": ("a" * SIZE + " person@example.com", "a" * SIZE + " <e-mail>"),
        "a@a@a@": ("a@" * (SIZE // 2) + " person@example.com", "a@" * (SIZE // 2) + " <e-mail>"),
        "dots": ("." * SIZE + " person@example.com", "." * SIZE + " <e-mail>"),
        "dots as a local part": ("." * SIZE + "@example.com", "<e-mail>"),
        "many labels": ("x@" + "a." * (SIZE // 2) + "ru", "<e-mail>"),
        "a token value": ("?token=" + "a" * SIZE + "&x=1", "?token=***&x=1"),
        "a secret in letters": ("a" * SIZE + SECRET + "a" * SIZE, "a" * SIZE + "***" + "a" * SIZE),
    }


def test_masking_long_runs_takes_linear_time() -> None:
    # A child process, not a thread: the regex engine holds the GIL, so a thread's join
    # timeout cannot fire while a quadratic pattern runs (the old pattern needs minutes on
    # 200 KB of letters, about 0.3 s already on 8 KB); the child is killed after 30 s.
    texts = _long_texts()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, SECRET],
        input=json.dumps({name: text for name, (text, _) in texts.items()}),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
        check=True,
    )
    answers = json.loads(done.stdout)
    for name, (_, masked) in texts.items():
        seconds, got = answers[name]
        print(f"{name}: {len(texts[name][0])} chars masked in {seconds * 1000:.1f} ms")
        assert got == masked, name


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab_.@-+ &=é\n", max_size=40))
def test_e_mails_are_found_as_the_old_pattern_found_them(text: str) -> None:
    assert mask_emails(text) == OLD_EMAIL.sub("<e-mail>", text)


def _message(msg: str, *args: Any) -> str:
    """The message of a record made as a logger makes it."""
    record = logging.getLogRecordFactory()("bridge", logging.INFO, __file__, 1, msg, args, None)
    return record.getMessage()


def test_secrets_tokens_and_addresses_are_masked(logging_state: None) -> None:
    install_redaction([SECRET, CLIENT_ID])
    line = _message(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:5",
        "POST",
        f"/api/v1/bitrix/events?token=abc&CLIENT_ID={quote_plus(CLIENT_ID)}",
        "1.1",
        200,
    )
    assert line == '127.0.0.1:5 - "POST /api/v1/bitrix/events?token=***&CLIENT_ID=*** HTTP/1.1" 200'
    assert _message("call %s", "x?api_token=k1&auth[access_token]=k2") == (
        "call x?api_token=***&auth[access_token]=***"
    )
    assert (
        _message("contact email=%s", "Sentinel.Person@romashka.example") == "contact email=<e-mail>"
    )
    assert _message(f"secret {SECRET} in the message") == "secret *** in the message"
    # A `token=` spanning the format and an argument.
    assert _message("url=/hook?token=%s", "not-a-known-secret") == "url=/hook?token=***"


def test_arguments_and_messages_are_cut_with_a_marker(logging_state: None) -> None:
    install_redaction([])
    line = _message("path=%s status=%d", "a" * 100_000, 404)
    assert line == f"path={'a' * MAX_ARGUMENT}...[cut, 100000 chars in all] status=404"
    many = _message("%s " * 20, *(["b" * 10_000] * 20))
    assert len(many) <= MAX_MESSAGE + 40 and many.endswith("chars in all]")
    assert len(_message("c" * 1_000_000)) <= MAX_MESSAGE + 40
    assert _message("%d items", "not a number") == "%d items (TypeError putting the arguments in)"


def test_a_cut_never_leaves_half_a_secret(logging_state: None) -> None:
    install_redaction([SECRET])
    # Addresses shrink to `<e-mail>`, so what is shown reaches the end of the scanned window,
    # which ends ten characters into the secret.
    addresses = ("p" * 2580 + "@example.com ") * 3
    filler = "q" * (SCAN_ARGUMENT - len(addresses) - 10)
    line = _message("value=%s", addresses + filler + SECRET + "r" * 100)
    assert line.startswith("value=<e-mail> <e-mail> <e-mail> qqq"), line
    assert line.endswith("chars in all]") and len(line) < MAX_ARGUMENT
    assert SECRET[:6] not in line
    assert SECRET[:6] not in safe_message("x", ("z" * (MAX_ARGUMENT - 10) + SECRET,))


def _log_lines() -> tuple[io.StringIO, logging.Logger]:
    """Logging set up as the service does it, writing to a string."""
    stream = io.StringIO()
    sys_stderr, sys.stderr = sys.stderr, stream
    try:
        setup_logging(make_settings("sqlite://"))
    finally:
        sys.stderr = sys_stderr
    return stream, logging.getLogger("bridge.test")


def test_a_newline_in_a_logged_value_cannot_forge_a_line(logging_state: None) -> None:
    stream, log = _log_lines()
    log.info("okdesk.webhook title=%s", f"Касса\n{FORGED}")
    log.info(f"message\r\n{FORGED} %s", "\x1b[31mred\u2028x\u202eevil")
    try:
        raise ValueError(f"bad value\n{FORGED}")
    except ValueError:
        log.exception("job.crashed value=%s", f"v\n{FORGED}")
    lines = stream.getvalue().splitlines()
    records = [line for line in lines if not line[:1].isspace()]
    assert len(records) == 3, lines
    assert all(
        re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \w+ bridge\.test ", r) for r in records
    )
    assert not any(line.startswith(FORGED) for line in lines)
    assert f"title=Касса\\n{FORGED}" in records[0]
    assert "\\r\\n" in records[1] and "\\x1b[31mred\\u2028x\\u202eevil" in records[1]
    assert any(line.strip() == f"{FORGED}" for line in lines)  # in the indented traceback


def test_a_record_is_masked_once_and_the_formatter_masks_only_tracebacks(
    logging_state: None,
) -> None:
    stream, log = _log_lines()
    calls: list[str] = []

    class Counting(Redactor):
        def __call__(self, text: str) -> str:
            calls.append(text)
            return super().__call__(text)

    bridge.config.logs._redact = Counting([SECRET])
    record = log.makeRecord("bridge.test", logging.INFO, __file__, 1, "x=%s n=%d", ("v", 3), None)
    assert len(calls) == 1  # a short argument is masked with the message it makes
    handler = logging.getLogger().handlers[0]
    for _ in range(3):
        handler.format(record)
    assert len(calls) == 1
    assert record.getMessage() == "x=v n=3"
    long = log.makeRecord("bridge.test", logging.INFO, __file__, 1, "x=%s", ("v" * 600,), None)
    assert len(calls) == 3  # a long one first, so that its cut never halves a secret
    assert long.getMessage().endswith("...[cut, 600 chars in all]")
    try:
        raise RuntimeError(f"token {SECRET}")
    except RuntimeError:
        log.exception("job.crashed")
    assert len(calls) == 5  # the message, then the traceback
    assert SECRET not in stream.getvalue() and "RuntimeError: token ***" in stream.getvalue()
    started = time.perf_counter()
    log.info("path=%s", "a@" * SIZE)
    took = time.perf_counter() - started
    print(f"a record with a {2 * SIZE}-char argument: {took * 1000:.1f} ms")
    assert len(stream.getvalue().splitlines()[-1]) < 2 * MAX_ARGUMENT
