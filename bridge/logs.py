"""Logging that cannot leak: secrets and e-mail addresses are masked in every record.

Masking happens where records are made (a record factory), so it covers every handler,
uvicorn's access log (whose request lines carry `?token=`) and test capture alike; the
formatter masks tracebacks too.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

from bridge.settings import Settings

_QUERY_SECRET = re.compile(r"((?:^|[?&\s])(?:token|api_token|auth\[[a-z_]+\])=)[^&\s\"']+", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_MASK = "***"


class Redactor:
    """Replaces known secret values, token query parameters and e-mail addresses."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # A secret may also appear URL-encoded (Bitrix24 appends CLIENT_ID to our URL).
        forms = {form for s in secrets if s for form in (s, quote(s, safe=""), quote_plus(s))}
        self._secrets = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, _MASK)
        text = _QUERY_SECRET.sub(lambda m: m.group(1) + _MASK, text)
        return _EMAIL.sub("<e-mail>", text)


_redact = Redactor([])


class _RedactedRecord(logging.LogRecord):
    def getMessage(self) -> str:  # noqa: N802 (logging's own name)
        return _redact(super().getMessage())


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return _redact(super().format(record))


def install_redaction(secrets: Iterable[str]) -> None:
    """Mask these secrets (and any token parameter or e-mail) in every log record."""
    global _redact
    _redact = Redactor(secrets)
    logging.setLogRecordFactory(_RedactedRecord)


def setup_logging(settings: Settings, **_: Any) -> None:
    """Log to stderr at the configured level, with secrets masked."""
    install_redaction(settings.secrets())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("httpx").setLevel(logging.WARNING)
