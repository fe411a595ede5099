"""Portals' secrets at rest: sealed with SECRETS_KEY, opened only with a configured key, bound
to the portal and column they were sealed for, and rotatable through SECRETS_KEY_PREVIOUS."""

from __future__ import annotations

import base64
import os

import pytest

from bridge.config.sealed import SealedSecretError, SecretBox, key_id, mask, read_key

WEBHOOK = "https://client.bitrix24.ru/rest/1/abcdefgh12345678/"


def _key() -> bytes:
    return os.urandom(32)


def test_a_sealed_webhook_opens_to_itself_and_never_shows_it() -> None:
    box = SecretBox(_key())
    sealed = box.seal(WEBHOOK, context="portal:acme:webhook_url")
    assert "abcdefgh12345678" not in sealed and "client.bitrix24.ru" not in sealed
    assert sealed.startswith(f"aesgcm:{box.current_id}:")
    assert box.open(sealed, context="portal:acme:webhook_url") == WEBHOOK


def test_the_same_secret_sealed_twice_reads_differently() -> None:
    box = SecretBox(_key())
    assert box.seal(WEBHOOK, context="c") != box.seal(WEBHOOK, context="c")


def test_a_value_copied_to_another_portal_does_not_open() -> None:
    box = SecretBox(_key())
    sealed = box.seal(WEBHOOK, context="portal:acme:webhook_url")
    with pytest.raises(SealedSecretError, match="does not open"):
        box.open(sealed, context="portal:other:webhook_url")


def test_another_key_cannot_open_it_and_says_which_key_sealed_it() -> None:
    first = SecretBox(_key())
    sealed = first.seal(WEBHOOK, context="c")
    with pytest.raises(SealedSecretError, match=first.current_id):
        SecretBox(_key()).open(sealed, context="c")


def test_after_a_rotation_the_previous_key_still_opens_and_the_new_one_seals() -> None:
    old, new = _key(), _key()
    sealed = SecretBox(old).seal(WEBHOOK, context="c")
    rotated = SecretBox(new, previous=old)
    assert rotated.open(sealed, context="c") == WEBHOOK
    assert not rotated.sealed_with_current(sealed)
    resealed = rotated.seal(WEBHOOK, context="c")
    assert rotated.sealed_with_current(resealed) and rotated.current_id == key_id(new)


def test_a_tampered_value_does_not_open() -> None:
    box = SecretBox(_key())
    sealed = box.seal(WEBHOOK, context="c")
    head, body = sealed.rsplit(":", 1)
    raw = bytearray(base64.b64decode(body))
    raw[-1] ^= 1
    with pytest.raises(SealedSecretError):
        box.open(f"{head}:{base64.b64encode(bytes(raw)).decode()}", context="c")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("not base64 at all!", "not base64"),
        (base64.b64encode(b"short").decode(), "32 bytes"),
        (base64.b64encode(bytes(range(64))).decode(), "32 bytes"),
    ],
)
def test_a_malformed_key_is_refused_with_how_to_make_one(text: str, why: str) -> None:
    with pytest.raises(SealedSecretError, match=why) as refused:
        read_key(text)
    assert "os.urandom(32)" in str(refused.value)


def test_a_secret_is_shown_masked() -> None:
    assert mask("okr-0123456789abcdef") == "***ef"
    assert mask("short") == "***"
