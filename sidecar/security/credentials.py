"""Credentials: the workload's current TlsMaterial, replaced on rotation; from files or from the mesh CA.

Transports read `current()` for every new connection (grpc's certificate fetcher, an SSLContext
rebuilt on `generation` change), so a rotation never touches a call in flight: established
connections keep the certificate they were opened with.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

from apex.mesh.security.pki import (
    CertificateError,
    PrivateKey,
    Validity,
    cert_pem,
    csr_for,
    issue,
    key_pem,
    new_key,
    new_root,
)
from apex.mesh.security.spiffe import SpiffeId

from sidecar.security.material import TlsMaterial

log = logging.getLogger(__name__)


class Credentials:
    """Holds the material in force; `install` swaps it atomically (asyncio: one thread)."""

    def __init__(self, material: TlsMaterial | None = None) -> None:
        self._material = material
        self._generation = 0 if material is None else material.generation
        self._listeners: list[Callable[[TlsMaterial], None]] = []

    def current(self) -> TlsMaterial | None:
        return self._material

    @property
    def generation(self) -> int:
        return self._generation

    def install(self, material: TlsMaterial) -> TlsMaterial:
        """Put `material` in force with the next generation number; tell the subscribers."""
        self._generation += 1
        material = TlsMaterial(
            material.chain_pem,
            material.key_pem,
            material.bundle_pem,
            material.identity,
            material.not_before,
            material.not_after,
            self._generation,
        )
        self._material = material
        log.info("workload certificate in force: %s", material.redacted())
        for listener in list(self._listeners):
            listener(material)
        return material

    def subscribe(self, listener: Callable[[TlsMaterial], None]) -> None:
        self._listeners.append(listener)


@dataclass(frozen=True, slots=True)
class CertificateFiles:
    """Paths as cert-manager's csi-driver or SPIRE's helper write them."""

    certificate: str
    private_key: str
    trust_bundle: str


class FileSource:
    """Loads the certificate, key and bundle from files and reloads them when they change.

    A half-written set (cert renewed, key not yet) fails `TlsMaterial.build`'s key check and is
    retried on the next poll; the material in force stays until a consistent set is read.
    """

    def __init__(self, files: CertificateFiles, credentials: Credentials) -> None:
        self.files = files
        self.credentials = credentials
        self._seen: tuple[tuple[int, int], ...] = ()
        self.last_error = ""

    def _stamp(self) -> tuple[tuple[int, int], ...]:
        stamps = []
        for path in (self.files.certificate, self.files.private_key, self.files.trust_bundle):
            st = os.stat(path)
            stamps.append((st.st_mtime_ns, st.st_size))
        return tuple(stamps)

    def poll(self) -> bool:
        """Reload when any file changed; True when new material was put in force."""
        try:
            stamp = self._stamp()
            if stamp == self._seen:
                return False
            files = self.files
            material = TlsMaterial.build(
                self._read(files.certificate), self._read(files.private_key), self._read(files.trust_bundle)
            )
        except (OSError, CertificateError, ValueError) as exc:
            self.last_error = f"certificate files {self.files.certificate}: {exc}"
            log.warning("%s (keeping the certificate in force)", self.last_error)
            return False
        self._seen = stamp
        self.last_error = ""
        self.credentials.install(material)
        return True

    @staticmethod
    def _read(path: str) -> bytes:
        with open(path, "rb") as f:
            return f.read()


class IssuedSource:
    """The sidecar's side of the mesh CA: a key made here (it never leaves the process), a CSR
    for the control stream, and the issued certificate put in force when it arrives."""

    def __init__(self, identity: SpiffeId, credentials: Credentials) -> None:
        self.identity = identity
        self.credentials = credentials
        self._pending: PrivateKey | None = None

    def request(self) -> bytes:
        """A CSR over a fresh key (a new key per renewal: a leaked key dies with its certificate)."""
        self._pending = new_key()
        return csr_for(self._pending, self.identity)

    def issued(self, chain_pem: bytes, bundle_pem: bytes) -> TlsMaterial:
        """Put the certificate answering the last `request` in force."""
        if self._pending is None:
            raise CertificateError("a certificate arrived without a pending request")
        material = TlsMaterial.build(chain_pem, key_pem(self._pending), bundle_pem)
        if material.identity != self.identity:
            raise CertificateError(f"the CA issued {material.identity}, this sidecar is {self.identity}")
        self._pending = None
        return self.credentials.install(material)

    def due(self, now: float) -> bool:
        """A renewal is due (none issued yet, or past half its lifetime)."""
        material = self.credentials.current()
        return material is None or material.generation == 0 or now >= material.renew_at()

    @staticmethod
    def placeholder(identity: SpiffeId, now: float) -> TlsMaterial:
        """Material nobody trusts (a throwaway root, generation 0), so mTLS listeners can bind before
        the CA answers: every handshake fails until the real certificate is in force."""
        root, root_key = new_root(identity.trust_domain, now, 3600)
        key = new_key()
        cert = issue(csr_for(key, identity), identity, root, root_key, Validity(now - 60, now + 3600))
        return TlsMaterial.build(cert_pem(cert), key_pem(key), cert_pem(root))

    def rebundle(self, bundle_pem: bytes) -> None:
        """A new trust bundle (CA rotation) with the same workload certificate."""
        material = self.credentials.current()
        if material is not None and material.bundle_pem != bundle_pem:
            self.credentials.install(TlsMaterial.build(material.chain_pem, material.key_pem, bundle_pem))
