"""The mesh CA: issues short-lived workload certificates for authenticated identities; rotates its root.

Rotation keeps trust continuous: `rotate()` makes a new root the signer while the old root stays
in the trust bundle, so certificates issued by either verify; once every workload has renewed
(one certificate lifetime), `retire()` drops the old root from the bundle.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from apex.mesh.security.pki import (
    PrivateKey,
    Validity,
    cert_pem,
    csr_for,
    issue,
    key_fingerprint,
    key_pem,
    load_certs,
    load_key,
    new_key,
    new_root,
)
from apex.mesh.security.sealed import Sealer, SealError
from apex.mesh.security.spiffe import SpiffeId, control_plane_id, control_plane_server_name
from cryptography import x509

DAY = 86400.0
DEFAULT_WORKLOAD_TTL = DAY
DEFAULT_ROOT_TTL = 365 * DAY
BACKDATE = 60.0  # tolerate this much clock skew between the CA and a verifier
KEYS_PLAIN = "keys.pem"
KEYS_SEALED = "keys.pem.sealed"  # AES-GCM at rest (apex.mesh.security.sealed) when the CA has a Sealer
KEYS_PURPOSE = b"apex mesh CA root keys"


@dataclass(frozen=True, slots=True)
class Root:
    cert: x509.Certificate
    key: PrivateKey


@dataclass(frozen=True, slots=True)
class Issued:
    chain_pem: bytes
    bundle_pem: bytes
    not_after: float
    key_fingerprint: str = ""  # SHA-256 of the certified public key (pki.key_fingerprint)


@dataclass(frozen=True, slots=True)
class Serving:
    """The control plane's own certificate for its mTLS port (its key made here, never stored)."""

    chain_pem: bytes
    key_pem: bytes
    bundle_pem: bytes  # the roots trusted when it was issued: client certificates verify against them
    not_before: float
    not_after: float

    def due(self, now: float, bundle_pem: bytes) -> bool:
        """Re-issue at half its lifetime, or once the CA's roots changed (a rotation or retirement)."""
        return bundle_pem != self.bundle_pem or now >= self.not_before + (self.not_after - self.not_before) / 2


class MeshCA:
    """Signs CSRs for identities the caller has authenticated. The first root signs; the
    others are trusted only (the previous root during a rotation's overlap)."""

    def __init__(self, trust_domain: str, roots: list[Root], workload_ttl: float = DEFAULT_WORKLOAD_TTL) -> None:
        if not roots:
            raise ValueError("a mesh CA needs a root")
        self.trust_domain = trust_domain
        self.roots = roots
        self.workload_ttl = workload_ttl
        self.sealer: Sealer | None = None  # set: the root keys are written sealed (encrypted at rest)

    @classmethod
    def create(cls, trust_domain: str, now: float, workload_ttl: float = DEFAULT_WORKLOAD_TTL) -> MeshCA:
        cert, key = new_root(trust_domain, now, DEFAULT_ROOT_TTL)
        return cls(trust_domain, [Root(cert, key)], workload_ttl)

    @property
    def signer(self) -> Root:
        return self.roots[0]

    def bundle_pem(self) -> bytes:
        return b"".join(cert_pem(root.cert) for root in self.roots)

    def sign(self, csr_pem: bytes, identity: SpiffeId, now: float, ttl: float | None = None) -> Issued:
        """A certificate for `identity` (already authenticated by the caller) over the CSR's key;
        CertificateError when the CSR is bad or asks for another identity."""
        if identity.trust_domain != self.trust_domain:
            raise ValueError(f"{identity} is outside trust domain {self.trust_domain}")
        if identity == control_plane_id(self.trust_domain):
            raise ValueError(f"{identity} is the control plane's own identity")
        life = min(ttl or self.workload_ttl, self.workload_ttl)
        root_end = self.signer.cert.not_valid_after_utc.timestamp()
        backdate = min(BACKDATE, life / 10)  # short test lifetimes keep their renewal point in the future
        validity = Validity(now - backdate, min(now + life, root_end))
        cert = issue(csr_pem, identity, self.signer.cert, self.signer.key, validity)
        return Issued(cert_pem(cert), self.bundle_pem(), validity.not_after, key_fingerprint(cert))

    def serving(self, now: float) -> Serving:
        """A certificate for the control plane itself (spiffe://<td>/ns/apex-system/sa/control-plane,
        DNS SAN control-plane.mesh.<td>, which no workload certificate carries), as long-lived as a
        workload's, over a key made here."""
        key = new_key()
        identity = control_plane_id(self.trust_domain)
        life = self.workload_ttl
        validity = Validity(
            now - min(BACKDATE, life / 10), min(now + life, self.signer.cert.not_valid_after_utc.timestamp())
        )
        dns = (control_plane_server_name(self.trust_domain),)
        cert = issue(csr_for(key, identity), identity, self.signer.cert, self.signer.key, validity, dns)
        return Serving(cert_pem(cert), key_pem(key), self.bundle_pem(), validity.not_before, validity.not_after)

    def keys_pem(self) -> bytes:
        """The root keys, in the order of `roots` (secret: sealed wherever it is stored)."""
        return b"".join(key_pem(root.key) for root in self.roots)

    @classmethod
    def from_pem(
        cls,
        certs_pem: bytes,
        keys: bytes,
        trust_domain: str,
        workload_ttl: float = DEFAULT_WORKLOAD_TTL,
        where: str = "",
    ) -> MeshCA:
        """The CA from its roots and their keys (ValueError naming `where` when they do not pair up)."""
        certs = load_certs(certs_pem)
        blocks = keys.split(b"-----END PRIVATE KEY-----")
        parsed = [load_key(block + b"-----END PRIVATE KEY-----\n") for block in blocks if block.strip()]
        if len(parsed) != len(certs):
            raise ValueError(f"{where}: {len(certs)} roots but {len(parsed)} keys")
        for i, (cert, key) in enumerate(zip(certs, parsed, strict=True)):
            if cert.public_key() != key.public_key():
                raise ValueError(f"{where}: root {i} and key {i} do not match")
        return cls(trust_domain, [Root(c, k) for c, k in zip(certs, parsed, strict=True)], workload_ttl)

    def copy(self) -> MeshCA:
        """Another CA over the same roots (a candidate to change before it replaces this one's roots)."""
        return MeshCA(self.trust_domain, list(self.roots), self.workload_ttl)

    def rotate(self, now: float) -> None:
        """A new root signs from now on; the old ones stay trusted until `retire()`."""
        cert, key = new_root(self.trust_domain, now, DEFAULT_ROOT_TTL)
        self.roots.insert(0, Root(cert, key))

    def retire(self) -> None:
        """Trust only the signing root (after every workload renewed under it)."""
        del self.roots[1:]

    # ---- persistence: the root keys on disk, 0600, in a directory only the control plane reads;
    # sealed with AES-GCM (keys.pem.sealed) when the CA has a Sealer, and then never in clear ----

    def save(self, directory: str) -> None:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        keys = self.keys_pem()
        if self.sealer is not None:
            files = [("roots.pem", self.bundle_pem()), (KEYS_SEALED, self.sealer.seal(keys, KEYS_PURPOSE))]
        else:
            files = [("roots.pem", self.bundle_pem()), (KEYS_PLAIN, keys)]
        for name, data in files:
            path = os.path.join(directory, name)
            tmp = path + ".tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        plain = os.path.join(directory, KEYS_PLAIN)
        if self.sealer is not None and os.path.exists(plain):
            os.remove(plain)  # migrated: the clear copy goes

    @classmethod
    def load(
        cls, directory: str, trust_domain: str, workload_ttl: float = DEFAULT_WORKLOAD_TTL, sealer: Sealer | None = None
    ) -> MeshCA:
        """The CA saved in `directory`; sealed keys need the `sealer` (ValueError naming the file otherwise)."""
        with open(os.path.join(directory, "roots.pem"), "rb") as f:
            certs = f.read()
        sealed = os.path.join(directory, KEYS_SEALED)
        if os.path.exists(sealed):
            if sealer is None:
                raise ValueError(f"{sealed}: the CA keys are sealed: give the at-rest key (--secret-key)")
            with open(sealed, "rb") as f:
                try:
                    data = sealer.open(f.read(), KEYS_PURPOSE)
                except SealError as exc:
                    raise ValueError(f"{sealed}: {exc}") from None
        else:
            with open(os.path.join(directory, KEYS_PLAIN), "rb") as f:
                data = f.read()
        ca = cls.from_pem(certs, data, trust_domain, workload_ttl, directory)
        ca.sealer = sealer
        return ca
