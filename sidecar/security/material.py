"""TlsMaterial: one workload certificate, its key and the trust bundle, as any transport takes them."""

from __future__ import annotations

import os
import ssl
import tempfile
from dataclasses import dataclass

from apex.mesh.security.pki import CertificateError, identity_of, load_certs, load_key
from apex.mesh.security.spiffe import SpiffeId
from cryptography.hazmat.primitives.asymmetric import ec

RENEW_AT = 0.5  # renew once half the certificate's lifetime has passed (Istio and SPIRE do the same)


@dataclass(frozen=True, slots=True)
class TlsMaterial:
    """PEM bytes a transport needs, checked to belong together. `generation` increases with
    every rotation so a transport knows when to take the new one."""

    chain_pem: bytes  # the workload certificate first, then intermediates
    key_pem: bytes
    bundle_pem: bytes  # every root trusted now (old and new during a CA rotation)
    identity: SpiffeId
    not_before: float
    not_after: float
    generation: int = 0

    @classmethod
    def build(cls, chain_pem: bytes, key_pem: bytes, bundle_pem: bytes, generation: int = 0) -> TlsMaterial:
        chain = load_certs(chain_pem)
        load_certs(bundle_pem)
        key = load_key(key_pem)
        leaf = chain[0]
        leaf_key = leaf.public_key()
        if not isinstance(leaf_key, ec.EllipticCurvePublicKey) or leaf_key.public_numbers() != (
            key.public_key().public_numbers()
        ):
            raise CertificateError("the private key does not match the certificate")
        identity = identity_of(leaf)
        if identity is None:
            raise CertificateError("the certificate has no SPIFFE ID (spiffe://...) in its URI SAN")
        return cls(
            chain_pem,
            key_pem,
            bundle_pem,
            identity,
            leaf.not_valid_before_utc.timestamp(),
            leaf.not_valid_after_utc.timestamp(),
            generation,
        )

    def renew_at(self) -> float:
        return self.not_before + (self.not_after - self.not_before) * RENEW_AT

    def redacted(self) -> dict[str, object]:
        """What may be shown (admin dumps, logs): never the key."""
        return {
            "identity": str(self.identity),
            "not_before": self.not_before,
            "not_after": self.not_after,
            "generation": self.generation,
        }

    def ssl_context(self, server: bool) -> ssl.SSLContext:
        """An mTLS SSLContext (ALPN h2, peer certificate required and checked against the
        bundle) for transports built on Python's ssl module (the h2 transport). The peer's
        SPIFFE ID is then read from `getpeercert()` and checked with `peer.PeerCheck`."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_alpn_protocols(["h2"])
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.check_hostname = False  # identity is the SPIFFE ID, checked after the handshake
        ctx.load_verify_locations(cadata=self.bundle_pem.decode())
        # ssl loads a key only from a file: a private temporary directory, removed at once.
        with tempfile.TemporaryDirectory(prefix="apex-tls-") as tmp:
            os.chmod(tmp, 0o700)
            chain, key = os.path.join(tmp, "chain.pem"), os.path.join(tmp, "key.pem")
            for path, data in ((chain, self.chain_pem), (key, self.key_pem)):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
            ctx.load_cert_chain(chain, key)
        return ctx
