"""Who may see the report page and who may press its button.

Access: ADMIN_TOKEN as the password of HTTP Basic (any user name, so a browser's login box
works) or as a bearer token, compared in constant time.

The retry button posts a form. A browser sends the administrator's saved Basic credentials
with any request to the page's origin, also one another site's page makes it send, so a POST
must also carry a token only our page can have (an HMAC of a per-page nonce keyed with
ADMIN_TOKEN, valid for a few hours) and come from our own origin (Origin, else Referer).
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


def _mac(token: str, nonce: str) -> str:
    return hmac.new(token.encode(), b"admin-form:" + nonce.encode(), hashlib.sha256).hexdigest()


def form_token(token: str, now: float | None = None) -> tuple[str, str]:
    """A fresh (nonce, csrf) pair for one page's form."""
    issued = int(time.time() if now is None else now)
    nonce = f"{issued}.{secrets.token_urlsafe(12)}"
    return nonce, _mac(token, nonce)


def form_valid(token: str, nonce: str, csrf: str, now: float | None = None) -> bool:
    """Whether a posted (nonce, csrf) pair was made by our page, not too long ago."""
    issued, _, _ = nonce.partition(".")
    if not issued.isdigit():
        return False
    age = (time.time() if now is None else now) - int(issued)
    return 0 <= age <= FORM_LIFETIME and hmac.compare_digest(_mac(token, nonce), csrf)


def same_origin(origin: str | None, referer: str | None, host: str | None) -> bool:
    """Whether the request comes from a page of this host (Origin, else Referer)."""
    source = origin if origin and origin != "null" else referer
    if not source or not host:
        return False
    return urlsplit(source).netloc.lower() == host.lower()
