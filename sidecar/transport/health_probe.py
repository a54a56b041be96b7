"""Active health checks on the wire: one grpc.health.v1 Check call to an endpoint."""

from __future__ import annotations

from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sidecar.transport.wire import UPSTREAM_CHANNEL_OPTIONS


class HealthProber:
    """Keeps a channel per endpoint (separate from the data path's) and runs Check on it."""

    def __init__(self) -> None:
        self._channels: dict[tuple[str, str], grpc.aio.Channel] = {}

    def _stub(self, address: str, authority: str) -> health_pb2_grpc.HealthStub:
        key = (address, authority)
        channel = self._channels.get(key)
        if channel is None:
            options: tuple[tuple[str, Any], ...] = UPSTREAM_CHANNEL_OPTIONS
            if authority:
                options = (*options, ("grpc.default_authority", authority))
            channel = self._channels[key] = grpc.aio.insecure_channel(address, options=options)
        return health_pb2_grpc.HealthStub(channel)

    async def check(self, address: str, authority: str, service: str, timeout: float) -> tuple[bool, str]:
        """(passed, detail): passed only for an answer of SERVING within `timeout`."""
        try:
            reply = await self._stub(address, authority).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout
            )
        except grpc.aio.AioRpcError as exc:
            return False, f"{exc.code().name}: {exc.details()}"
        name = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        return reply.status == health_pb2.HealthCheckResponse.SERVING, name

    def forget(self, keep: set[tuple[str, str]]) -> list[grpc.aio.Channel]:
        """Drop channels to endpoints no longer checked; return them for closing."""
        gone = [k for k in self._channels if k not in keep]
        return [self._channels.pop(k) for k in gone]

    async def close(self) -> None:
        channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            await channel.close()
