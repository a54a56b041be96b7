"""The grpc.aio transport (`transport: grpc`): listeners and a connector on grpc's asyncio API."""

from __future__ import annotations

from sidecar.core.transport import Transport


def transport() -> Transport:
    """A fresh grpc.aio transport for one sidecar (the registry's entry point)."""
    from sidecar.transport.grpc_aio.factory import GrpcAioTransport

    return GrpcAioTransport()
