"""mTLS on the grpc transport: server credentials that follow rotation, channel credentials, the peer's URI SANs.

grpc Python gives no hook into certificate verification beyond the trust bundle, so the peer's
SPIFFE ID is read from the call's auth context after the handshake (`peer_uri`) and judged by the
listener's PeerCheck; a wrong identity gets its status on the first call, never a connection reset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc

if TYPE_CHECKING:  # annotations only: importing these at start would load cryptography in every sidecar
    from sidecar.security.credentials import Credentials
    from sidecar.security.material import TlsMaterial
    from sidecar.security.tls import ClientTls


def _config(material: TlsMaterial) -> Any:
    return grpc.ssl_server_certificate_configuration(
        [(material.key_pem, material.chain_pem)], root_certificates=material.bundle_pem
    )


def server_credentials(credentials: Credentials) -> grpc.ServerCredentials:
    """mTLS credentials (a client certificate from the bundle is required: grpc Python can only
    require one or not ask at all) whose certificate and bundle are re-read at each new handshake
    when the Credentials' generation changed (grpc's certificate_configuration_fetcher)."""
    material = credentials.current()
    if material is None:
        raise ValueError("mTLS listener without a workload certificate")
    served = [material.generation]

    def fetch() -> Any:
        now = credentials.current()
        if now is None or now.generation == served[0]:
            return None
        served[0] = now.generation
        return _config(now)

    return grpc.dynamic_ssl_server_credentials(
        _config(material), fetch, require_client_authentication=True
    )


def peer_uris(context: Any) -> list[str]:
    """The URI SANs of the peer's verified certificate ([] when it sent none)."""
    return [uri.decode() for uri in context.auth_context().get("peer_uri", ())]


def channel_credentials(tls: ClientTls) -> tuple[grpc.ChannelCredentials, int, tuple[tuple[str, Any], ...]]:
    """(credentials, generation, options) for a new channel to another sidecar."""
    material = tls.credentials.current()
    if material is None:
        raise ValueError("mTLS connector without a workload certificate")
    creds = grpc.ssl_channel_credentials(material.bundle_pem, material.key_pem, material.chain_pem)
    return creds, material.generation, (("grpc.ssl_target_name_override", tls.server_name),)
