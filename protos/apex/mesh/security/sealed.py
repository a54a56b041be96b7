"""Secrets at rest: AES-256-GCM sealing with a key named by a secret reference (env or file).

What the control plane stores (the mesh CA's root keys) is sealed with it.

A sealed blob is MAGIC, a 96-bit random nonce, then the ciphertext with its 128-bit tag. The
associated data binds a blob to its purpose (e.g. b"mesh-ca-keys"), so a blob sealed for one thing
cannot be passed off as another. Opening with the wrong key, or a blob altered by one bit, fails.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from apex.mesh.security.secrets import SecretError, resolve

MAGIC = b"APEX-SEALED-1\n"
NONCE_BYTES = 12
KEY_BYTES = 32
KEY_HINT = "32 bytes, base64 or hex (e.g. `openssl rand -base64 32`)"


class SealError(ValueError):
    """A blob that cannot be opened: not sealed, wrong key, or altered; never shows key or content."""


def decode_key(text: str) -> bytes:
    """A 256-bit key written as hex (64 digits) or base64 (standard or URL-safe)."""
    text = text.strip()
    candidates: list[bytes] = []
    if len(text) == 2 * KEY_BYTES:
        with contextlib.suppress(ValueError):
            candidates.append(bytes.fromhex(text))
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        with contextlib.suppress(binascii.Error, ValueError):
            candidates.append(decode(text + "=" * (-len(text) % 4)))
    for key in candidates:
        if len(key) == KEY_BYTES:
            return key
    raise SecretError(f"the at-rest key must be {KEY_HINT}")


class Sealer:
    """Seals and opens blobs with one AES-256-GCM key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise SecretError(f"the at-rest key must be {KEY_HINT}")
        self._aead = AESGCM(key)

    @classmethod
    def from_ref(cls, ref: str | Mapping[str, str], environ: Mapping[str, str] | None = None) -> Sealer:
        """The key named by `env:NAME` / `file:PATH` (its text is remembered for log redaction)."""
        return cls(decode_key(resolve(ref, environ)))

    def seal(self, plaintext: bytes, purpose: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return MAGIC + nonce + self._aead.encrypt(nonce, plaintext, MAGIC + purpose)

    def open(self, blob: bytes, purpose: bytes) -> bytes:
        if not is_sealed(blob):
            raise SealError("not a sealed blob")
        nonce = blob[len(MAGIC) : len(MAGIC) + NONCE_BYTES]
        try:
            return self._aead.decrypt(nonce, blob[len(MAGIC) + NONCE_BYTES :], MAGIC + purpose)
        except InvalidTag:
            raise SealError("cannot open: wrong at-rest key, or the data was altered") from None


def is_sealed(blob: bytes) -> bool:
    return blob.startswith(MAGIC) and len(blob) > len(MAGIC) + NONCE_BYTES + 16
