"""Logging that cannot leak, cannot be forged and cannot be made slow by what it logs.

Every record is made safe once, where it is made (a record factory), so the rule covers every
handler, the access lines (whose paths carry whatever a client sent) and test capture alike:

- each argument longer than `MAX_ARGUMENT` is looked at up to `SCAN_ARGUMENT` characters,
  masked, escaped and cut to `MAX_ARGUMENT` characters (masked before the cut, so no half
  secret is left; a shorter one is masked and escaped with the message it goes into); the message
  they make is treated the same (`SCAN_MESSAGE`, `MAX_MESSAGE`), as a `token=` may span the
  format and an argument;
- masking hides known secrets (also URL-encoded), `token=`/`api_token=`/`auth[...]=` values
  and e-mail addresses, and runs in time linear in the text: no pattern can backtrack;
- control characters become escapes (a newline is written `\\n`), so a value from a webhook
  cannot start a log line of its own.

The formatter touches only tracebacks and stack traces: masked, cut, control characters
escaped, and every line indented, so the only lines that start in column one are records.
`LOG_FORMAT=json` writes each record as one JSON object a line, from the same made-safe
message and the same made-safe traceback.
"""

from __future__ import annotations

import json
import logging
import numbers
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote, quote_plus

from starlette.types import Scope

from bridge.config.settings import Settings

log = logging.getLogger("bridge.access")
# The routes Okdesk and Bitrix24 call (`bridge.web.routes`): served first, logged by their route.
INTAKE_PREFIX = "/api/v1/"

MAX_ARGUMENT = 500
SCAN_ARGUMENT = 8 * 1024
MAX_MESSAGE = 4 * 1024
SCAN_MESSAGE = 16 * 1024
MAX_TRACEBACK = 32 * 1024
_REACH = 256

_MASK = "***"
_EMAIL_MASK = "<e-mail>"
# Values run up to the next separator; each attempt starts only after `?`, `&` or a space,
# so no stretch of text is scanned twice.
_QUERY_SECRET = re.compile(r"((?:^|[?&\s])(?:token|api_token|auth\[[a-z_]+\])=)[^&\s\"']+", re.I)
# E-mail addresses are found from their `@`: the local part is the run of these characters
# just before it (read on the reversed text), the domain the labels just after it.
_LOCAL_PART = re.compile(r"[\w.+-]*")
_DOMAIN = re.compile(r"[\w-]+(?:\.[\w-]+)+")


def _escapes(keep_newlines: bool) -> dict[int, str]:
    """A `str.translate` table writing control and bidi characters as escapes."""
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    codes = [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, 0x200E, 0x200F]
    codes += [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
    table = {
        code: named.get(chr(code), f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        for code in codes
    }
    if keep_newlines:
        del table[ord("\n")]
    return table


_ESCAPE_LINE = _escapes(keep_newlines=False)
_ESCAPE_BLOCK = _escapes(keep_newlines=True)


def mask_emails(text: str) -> str:
    """Replace e-mail addresses by `<e-mail>`, in time linear in the text.

    Matches what `[\\w.+-]+@[\\w-]+(?:\\.[\\w-]+)+` finds scanning left to right, without its
    backtracking: each `@` is looked at once, and the runs read around it never reach past
    the neighbouring `@` (which no part of an address may hold).
    """
    at = text.find("@")
    if at < 0:
        return text
    reverse = text[::-1]
    size = len(text)
    parts: list[str] = []
    done = 0  # text before this is copied or masked
    while at >= 0:
        local = _LOCAL_PART.match(reverse, size - at, size - done)
        start = size - local.end() if local else at
        domain = _DOMAIN.match(text, at + 1)
        if start < at and domain is not None:
            parts += [text[done:start], _EMAIL_MASK]
            done = domain.end()
        at = text.find("@", max(at + 1, done))
    parts.append(text[done:])
    return "".join(parts)


class Redactor:
    """Replaces known secret values, token query parameters and e-mail addresses."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # A secret may also appear URL-encoded (Bitrix24 appends CLIENT_ID to our URL).
        forms = {form for s in secrets if s for form in (s, quote(s, safe=""), quote_plus(s))}
        self._secrets = sorted(forms, key=len, reverse=True)
        self.known = frozenset(s for s in secrets if s)
        # How far from a cut a secret (or an address) cut in two may reach.
        self.reach = max([_REACH, *map(len, forms)])

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, _MASK)
        text = _QUERY_SECRET.sub(lambda m: m.group(1) + _MASK, text)
        return mask_emails(text)


_redact = Redactor([])


def bounded(text: str, scan: int, limit: int) -> str:
    """The first `scan` characters of `text` masked and escaped, cut to `limit` with a marker.

    Masking comes before the cut, so that a cut never leaves half a secret behind.
    """
    shown = _redact(text[:scan])
    if len(text) > scan:  # what the window cut in two must not show: drop the window's end
        shown = shown[: max(len(shown) - _redact.reach, 0)]
    shown = shown.translate(_ESCAPE_LINE)
    if len(text) <= scan and len(shown) <= limit:
        return shown
    return f"{shown[:limit]}...[cut, {len(text)} chars in all]"


class _Argument:
    """A log argument that prints masked and cut (`%s` and `%r` alike)."""

    __slots__ = ("_value",)

    def __init__(self, value: object) -> None:
        self._value = value

    def __str__(self) -> str:
        return bounded(str(self._value), SCAN_ARGUMENT, MAX_ARGUMENT)

    def __repr__(self) -> str:
        return bounded(repr(self._value), SCAN_ARGUMENT, MAX_ARGUMENT)


def _argument(value: object) -> object:
    # Numbers stay numbers, for `%d` and `%.1f`; they cannot carry text. A short string needs
    # no pass of its own: the message it goes into is masked, escaped and cut as a whole
    # (one pass a record instead of one an argument: a webhook's log line cost twice as much).
    if isinstance(value, numbers.Number) or (isinstance(value, str) and len(value) <= MAX_ARGUMENT):
        return value
    return _Argument(value)


def safe_message(msg: object, args: Any) -> str:
    """The record's message: arguments masked and cut, then masked, escaped and cut whole."""
    return bounded(_interpolate(str(msg), args).rstrip("\n"), SCAN_MESSAGE, MAX_MESSAGE)


def _interpolate(text: str, args: object) -> str:
    """`text % args` as logging does it, with every argument made safe."""
    if isinstance(args, Mapping):
        safe: object = {key: _argument(value) for key, value in args.items()}
    elif isinstance(args, tuple):
        safe = tuple(_argument(value) for value in args)
    else:
        safe = args
    if not safe:
        return text
    try:
        return text % safe
    except Exception as exc:  # logging itself would print a "Logging error" when writing it
        return f"{text} ({type(exc).__name__} putting the arguments in)"


class _SafeRecord(logging.LogRecord):
    """A record whose message is made safe once, when it is made."""

    def __init__(
        self,
        name: str,
        level: int,
        pathname: str,
        lineno: int,
        msg: object,
        args: Any,
        exc_info: Any,
        func: str | None = None,
        sinfo: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, level, pathname, lineno, msg, args, exc_info, func, sinfo, **kwargs)
        self.msg = safe_message(self.msg, self.args)
        self.args = ()


def safe_block(text: str) -> str:
    """A traceback or stack: its end kept and masked, control characters escaped, indented."""
    shown = _redact(text[-MAX_TRACEBACK:])
    if len(text) > MAX_TRACEBACK:  # as in `bounded`, at the start this time
        shown = f"...[cut, {len(text)} chars in all]\n{shown[_redact.reach :]}"
    shown = shown.translate(_ESCAPE_BLOCK)
    return "\n".join("    " + line for line in shown.split("\n"))


class SafeFormatter(logging.Formatter):
    """Formats made-safe records; tracebacks and stacks are made safe here."""

    def formatException(  # noqa: N802 (logging's own name)
        self,
        ei: tuple[type[BaseException], BaseException, TracebackType | None]
        | tuple[None, None, None],
    ) -> str:
        return safe_block(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:  # noqa: N802 (logging's own name)
        return safe_block(super().formatStack(stack_info))


class JsonFormatter(SafeFormatter):
    """One JSON object a line: time (UTC), level, logger, message, and the traceback or stack
    when there is one. The message is the record's, made safe where it was made; the
    traceback and stack are made safe here as in text, so both formats show the same."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False)


def install_redaction(secrets: Iterable[str]) -> None:
    """Mask these secrets (and any token parameter or e-mail) in every log record."""
    global _redact
    _redact = Redactor(secrets)
    logging.setLogRecordFactory(_SafeRecord)


def also_mask(secrets: Iterable[str]) -> None:
    """Mask these secrets too (a portal's, opened after the start)."""
    if not set(secrets) <= _redact.known:
        install_redaction(_redact.known | set(secrets))


def setup_logging(settings: Settings, **_: Any) -> None:
    """Log to stderr at the configured level, with secrets masked."""
    install_redaction(settings.secrets())
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Said at DEBUG, so that a DEBUG log shows it took effect (asyncio's own line at start,
    # "Using selector", is not there on uvloop's loop).
    logging.getLogger(__name__).debug(
        "logging.configured level=%s format=%s", settings.log_level, settings.log_format
    )


def access_line(scope: Scope, status: int) -> None:
    """One line a request: who, what, and the answer. The path only: a query may hold a token.

    An accepted intake request (a webhook, a Bitrix24 event) is not repeated here: its route
    logs what became of it (`okdesk.webhook issue_id=... result=...`), and two lines for each
    of them cost a sixth of a webhook's CPU time (`python -m bench`).
    """
    if 200 <= status < 300 and scope["path"].startswith(INTAKE_PREFIX):
        return
    client = scope.get("client")
    log.info(
        "http.request client=%s method=%s path=%s status=%s",
        client[0] if client else "-",
        scope["method"],
        scope["path"],
        status or "none",
    )
