"""Secrets at rest: AES-GCM sealing, its key from a reference, and the mesh CA's root keys sealed on disk."""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path

import pytest
from apex.mesh.security.sealed import Sealer, SealError, decode_key, is_sealed
from apex.mesh.security.secrets import REDACTOR, SecretError

from engines.security.ca import KEYS_PLAIN, KEYS_SEALED, MeshCA
from tests.unit.security.pki_helpers import TD

KEY = bytes(range(32))


def test_seal_and_open_round_trip_and_refuse_tampering() -> None:
    sealer = Sealer(KEY)
    blob = sealer.seal(b"root keys", b"purpose-a")
    assert is_sealed(blob) and b"root keys" not in blob
    assert sealer.open(blob, b"purpose-a") == b"root keys"
    assert sealer.seal(b"root keys", b"purpose-a") != blob  # a fresh nonce each time
    with pytest.raises(SealError, match="wrong at-rest key, or the data was altered"):
        Sealer(bytes(32)).open(blob, b"purpose-a")
    with pytest.raises(SealError):
        sealer.open(blob, b"purpose-b")  # sealed for another purpose
    flipped = bytearray(blob)
    flipped[-1] ^= 1
    with pytest.raises(SealError):
        sealer.open(bytes(flipped), b"purpose-a")
    with pytest.raises(SealError, match="not a sealed blob"):
        sealer.open(b"-----BEGIN PRIVATE KEY-----", b"purpose-a")


def test_the_key_comes_by_reference_as_base64_or_hex(tmp_path: Path) -> None:
    b64 = base64.b64encode(KEY).decode()
    assert decode_key(b64) == decode_key(KEY.hex()) == decode_key(base64.urlsafe_b64encode(KEY).decode()) == KEY
    path = tmp_path / "key"
    path.write_text(b64 + "\n")
    blob = Sealer.from_ref(f"file:{path}").seal(b"x", b"p")
    assert Sealer.from_ref("env:K", {"K": KEY.hex()}).open(blob, b"p") == b"x"
    assert REDACTOR.scrub(f"key={b64}") == "key=<redacted>"  # a resolved key is never logged
    with pytest.raises(SecretError, match="32 bytes, base64 or hex"):
        Sealer.from_ref("env:K", {"K": "too-short"})
    with pytest.raises(SecretError, match="not inline"):
        Sealer.from_ref(b64)


def test_the_mesh_ca_keys_are_sealed_on_disk_and_migrated_from_clear(tmp_path: Path) -> None:
    now = time.time()
    ca = MeshCA.create(TD, now)
    ca.save(str(tmp_path))  # no sealer: in clear, 0600 (as before)
    assert (tmp_path / KEYS_PLAIN).exists()
    sealer = Sealer(KEY)
    loaded = MeshCA.load(str(tmp_path), TD, sealer=sealer)  # migration: read clear, write sealed
    loaded.save(str(tmp_path))
    assert not (tmp_path / KEYS_PLAIN).exists()
    sealed = (tmp_path / KEYS_SEALED).read_bytes()
    assert is_sealed(sealed) and b"PRIVATE KEY" not in sealed
    assert os.stat(tmp_path / KEYS_SEALED).st_mode & 0o777 == 0o600
    again = MeshCA.load(str(tmp_path), TD, sealer=sealer)
    assert again.bundle_pem() == ca.bundle_pem()
    assert again.signer.key.private_numbers() == ca.signer.key.private_numbers()
    with pytest.raises(ValueError, match=r"keys\.pem\.sealed: the CA keys are sealed: give the at-rest key"):
        MeshCA.load(str(tmp_path), TD)
    with pytest.raises(ValueError, match=r"keys\.pem\.sealed: cannot open: wrong at-rest key"):
        MeshCA.load(str(tmp_path), TD, sealer=Sealer(bytes(32)))
