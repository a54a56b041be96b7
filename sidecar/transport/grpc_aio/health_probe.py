"""Active health checks on the wire: one grpc.health.v1 Check call to an endpoint."""

from __future__ import annotations

import asyncio

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sidecar.security.tls import ClientTls
from sidecar.transport.grpc_aio.channels import ChannelPool


class HealthProber:
    """Keeps a channel per endpoint (separate from the data path's) and runs Check on it."""

    def __init__(self, tls: ClientTls | None = None) -> None:
        self._channels = ChannelPool(tls=tls)
        self._closing: set[asyncio.Task[None]] = set()

    def _stub(self, address: str, authority: str) -> health_pb2_grpc.HealthStub:
        return health_pb2_grpc.HealthStub(self._channels.get(address, authority))

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

    def keep(self, endpoints: set[tuple[str, str]]) -> None:
        """Close the channels to endpoints no longer checked (in the background)."""
        for channel in self._channels.forget(endpoints):
            task = asyncio.get_running_loop().create_task(channel.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        await self._channels.close()
