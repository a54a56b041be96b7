"""What a transport takes to speak mTLS: the workload's Credentials and, per listener, its PeerCheck."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from apex.mesh.security.spiffe import SpiffeId, identity_server_name, mesh_server_name

from sidecar.security.handshake import HandshakeFailures
from sidecar.security.peer import MtlsMode, PeerCheck

if TYPE_CHECKING:  # cryptography is loaded only by a sidecar with an identity
    from sidecar.security.credentials import Credentials


@dataclass(frozen=True, slots=True)
class ListenerTls:
    """A listener's TLS: the certificate it presents (current at each handshake) and what it accepts."""

    credentials: Credentials
    check: PeerCheck
    handshakes: HandshakeFailures = field(default_factory=HandshakeFailures)  # failed, by reason (h2 only)

    @property
    def mode(self) -> MtlsMode:
        return self.check.mode


@dataclass(frozen=True, slots=True)
class ClientTls:
    """A connector's TLS toward other sidecars: present the workload certificate, trust the bundle,
    and accept a server presenting a certificate of the mesh's trust domain — or, with
    `server_identity` (a cluster's `mtls_server_identity`), exactly that SPIFFE ID."""

    credentials: Credentials
    trust_domain: str
    handshakes: HandshakeFailures = field(default_factory=HandshakeFailures)  # failed, by reason
    server_identity: str = ""

    @property
    def server_name(self) -> str:
        """The host name the server's certificate must carry: the expected identity's own DNS SAN
        (grpc can check nothing else), else `mesh.<td>`."""
        if self.server_identity:
            exact = identity_server_name(SpiffeId.parse(self.server_identity))
            if exact is not None:
                return exact
        return mesh_server_name(self.trust_domain)

    def accepts(self, uris: list[str]) -> bool:
        """The server's URI SANs name the expected identity (any of the trust domain without one)."""
        if self.server_identity:
            return self.server_identity in uris
        return any(uri.startswith(f"spiffe://{self.trust_domain}/") for uri in uris)
