"""Secrets at rest: a portal's webhook URL and tokens, sealed with AES-GCM under `SECRETS_KEY`.

A sealed value reads `aesgcm:<key id>:<base64 of nonce + ciphertext>`. The key id (the first 8
hex digits of the key's SHA-256) names the key that sealed it, so a key can be rotated: the new
key goes to `SECRETS_KEY`, the old one to `SECRETS_KEY_PREVIOUS` (still opens, never seals),
and `python -m bridge.admin portal add` run again for each portal reseals it under the new
one. Each value is bound to what it is (`context`, e.g. `portal:acme:webhook_url`), so a
sealed value copied into another portal's row or column does not open.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SCHEME = "aesgcm"
KEY_BYTES = 32
NONCE_BYTES = 12
# What the README tells the operator to run to make a key.
MAKE_KEY = 'python -c "import base64, os; print(base64.b64encode(os.urandom(32)).decode())"'


class SealedSecretError(ValueError):
    """A key is malformed, or a sealed value cannot be opened with the keys configured."""


def read_key(text: str, name: str = "SECRETS_KEY") -> bytes:
    """A key as configured: 32 bytes in base64."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SealedSecretError(f"{name} is not base64: make one with {MAKE_KEY}") from None
    if len(key) != KEY_BYTES:
        raise SealedSecretError(f"{name} must be 32 bytes in base64: make one with {MAKE_KEY}")
    return key


def key_id(key: bytes) -> str:
    """The name a sealed value gives its key (not the key: a hash of it)."""
    return hashlib.sha256(key).hexdigest()[:8]


class SecretBox:
    """Seals under the current key; opens under the current or the previous one."""

    def __init__(self, current: bytes, previous: bytes | None = None) -> None:
        self._current = current
        self._keys = {key_id(current): current}
        if previous is not None:
            self._keys.setdefault(key_id(previous), previous)

    @property
    def current_id(self) -> str:
        """The id of the key new values are sealed with."""
        return key_id(self._current)

    def seal(self, plain: str, *, context: str) -> str:
        """`plain`, encrypted and bound to `context`."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self._current).encrypt(nonce, plain.encode(), context.encode())
        return f"{SCHEME}:{self.current_id}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, sealed: str, *, context: str) -> str:
        """The plain value; SealedSecretError when no configured key opens it."""
        scheme, _, rest = sealed.partition(":")
        kid, _, body = rest.partition(":")
        if scheme != SCHEME or not body:
            raise SealedSecretError(f"{context}: not a sealed value")
        key = self._keys.get(kid)
        if key is None:
            raise SealedSecretError(
                f"{context}: sealed with key {kid}, which is neither SECRETS_KEY nor "
                "SECRETS_KEY_PREVIOUS"
            )
        try:
            raw = base64.b64decode(body, validate=True)
            plain = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
        except (binascii.Error, ValueError, InvalidTag):
            raise SealedSecretError(f"{context}: the sealed value does not open") from None
        return plain.decode()

    def sealed_with_current(self, sealed: str) -> bool:
        """Whether the value is sealed with the current key (else `portal add` again reseals it)."""
        return sealed.split(":")[1:2] == [self.current_id]


def mask(secret: str) -> str:
    """How a secret is shown: its length and last two characters, never more."""
    return f"***{secret[-2:]}" if len(secret) >= 12 else "***"
