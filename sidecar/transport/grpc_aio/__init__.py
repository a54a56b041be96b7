"""The grpc.aio transport (`transport: grpc`): listeners and a connector on grpc's asyncio API."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sidecar.core.transport import Transport

if TYPE_CHECKING:
    from sidecar.security.tls import ClientTls


def transport(tls: ClientTls | None = None) -> Transport:
    """A fresh grpc.aio transport for one sidecar (the registry's entry point); with `tls` its
    connector speaks mTLS to upstreams."""
    from sidecar.transport.grpc_aio.factory import GrpcAioTransport

    return GrpcAioTransport(tls)
