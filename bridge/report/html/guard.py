"""Who may see the report page and who may press its button.

Access: ADMIN_TOKEN as the password of HTTP Basic (any user name, so a browser's login box
works) or as a bearer token, compared in constant time.

The retry button posts a form. A browser sends the administrator's saved Basic credentials
with any request to the page's origin, also one another site's page makes it send, so a POST
must also carry a token only our page can have (an HMAC of a per-page nonce keyed with
ADMIN_TOKEN, valid for a few hours, good for one POST in any replica: the route records its
nonce as a seen event) and come from our own origin, scheme included (Origin, else Referer).

Wrong tokens are throttled per address by the route (`GUESSES_PER_MINUTE`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from urllib.parse import urlsplit

FORM_LIFETIME = 12 * 3600
# Wrong ADMIN_TOKENs one address may try per minute (1,230 a second went through before).
GUESSES_PER_MINUTE = 10


def authorized(header: str | None, token: str) -> bool:
    """Whether an Authorization header carries `token` (Basic password or Bearer)."""
    if not header:
        return False
    scheme, _, value = header.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        given = value.strip().encode()
    elif scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        given = decoded.partition(b":")[2]
    else:
        return False
    return hmac.compare_digest(given, token.encode())


def _issued(nonce: str) -> int | None:
    issued, _, _ = nonce.partition(".")
    # isdigit() is true for «²», which int() refuses: a 500 before.
    return int(issued) if issued.isascii() and issued.isdigit() and len(issued) < 12 else None


def _mac(token: str, nonce: str) -> str:
    return hmac.new(token.encode(), b"admin-form:" + nonce.encode(), hashlib.sha256).hexdigest()


def form_token(token: str, now: float | None = None) -> tuple[str, str]:
    """A fresh (nonce, csrf) pair for one page's form."""
    issued = int(time.time() if now is None else now)
    nonce = f"{issued}.{secrets.token_urlsafe(12)}"
    return nonce, _mac(token, nonce)


def form_valid(
    token: str, nonce: str, csrf: str, now: float | None = None, lifetime: float = FORM_LIFETIME
) -> bool:
    """Whether a posted (nonce, csrf) pair was made by our page, at most `lifetime` ago."""
    issued = _issued(nonce)
    if issued is None:
        return False
    age = (time.time() if now is None else now) - issued
    # Bytes: compare_digest refuses a str with non-ASCII (a 500 before).
    made = _mac(token, nonce).encode()
    return 0 <= age <= lifetime and hmac.compare_digest(made, csrf.encode())


def same_origin(origin: str | None, referer: str | None, ours: str) -> bool:
    """Whether the request comes from a page of our origin `scheme://host` (Origin, else
    Referer): an http page of the same host is another origin."""
    source = origin if origin and origin != "null" else referer
    if not source:
        return False
    try:
        parts = urlsplit(source)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return False
    return f"{parts.scheme}://{parts.netloc}".lower() == ours.lower()
