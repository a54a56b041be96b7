"""The upstream side: relay a Request to one endpoint over a pooled grpc.aio channel."""

from __future__ import annotations

import time
from typing import Any

import grpc

from sidecar.core.call import Metadata, Status
from sidecar.core.service import Request
from sidecar.transport.wire import FROM_GRPC, UPSTREAM_CHANNEL_OPTIONS, as_metadata


class UpstreamResponse:
    """Adapts a grpc.aio stream-stream call to the Response protocol."""

    __slots__ = ("_call",)

    def __init__(self, call: grpc.aio.StreamStreamCall[Any, Any]) -> None:
        self._call = call

    async def initial_metadata(self) -> Metadata:
        return as_metadata(await self._call.initial_metadata())

    async def read(self) -> bytes | None:
        try:
            message = await self._call.read()
        except grpc.aio.AioRpcError:
            return None  # the status carries the error
        return None if message is grpc.aio.EOF else message  # type: ignore[return-value]

    async def status(self) -> Status:
        call = self._call
        code = await call.code()
        return Status(FROM_GRPC[code], await call.details() or "", as_metadata(await call.trailing_metadata()))

    def cancel(self) -> None:
        self._call.cancel()


class GrpcConnector:
    """Keeps one channel per (endpoint, authority) and opens a pass-through call on it."""

    def __init__(self) -> None:
        self._channels: dict[tuple[str, str], grpc.aio.Channel] = {}

    def channel(self, address: str, authority: str) -> grpc.aio.Channel:
        key = (address, authority)
        channel = self._channels.get(key)
        if channel is None:
            options: tuple[tuple[str, Any], ...] = UPSTREAM_CHANNEL_OPTIONS
            if authority:
                options = (*options, ("grpc.default_authority", authority))
            channel = grpc.aio.insecure_channel(address, options=options)
            self._channels[key] = channel
        return channel

    async def __call__(self, address: str, authority: str, request: Request) -> UpstreamResponse:
        deadline = request.call.deadline
        timeout = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        multicallable = self.channel(address, authority).stream_stream(request.call.method)
        call = multicallable(request.messages, metadata=request.call.metadata, timeout=timeout)
        return UpstreamResponse(call)

    async def close(self) -> None:
        channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            await channel.close()
