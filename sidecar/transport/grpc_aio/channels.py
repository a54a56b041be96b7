"""A pool of grpc.aio channels to upstream endpoints: one per (address, authority)."""

from __future__ import annotations

from typing import Any

import grpc

from sidecar.transport.grpc_aio.wire import UPSTREAM_CHANNEL_OPTIONS


class ChannelPool:
    def __init__(self) -> None:
        self._channels: dict[tuple[str, str], grpc.aio.Channel] = {}

    def get(self, address: str, authority: str) -> grpc.aio.Channel:
        """The channel to `address` sending `authority` (empty: the address), created on first use."""
        key = (address, authority)
        channel = self._channels.get(key)
        if channel is None:
            options: tuple[tuple[str, Any], ...] = UPSTREAM_CHANNEL_OPTIONS
            if authority:
                options = (*options, ("grpc.default_authority", authority))
            channel = self._channels[key] = grpc.aio.insecure_channel(address, options=options)
        return channel

    def forget(self, keep: set[tuple[str, str]]) -> list[grpc.aio.Channel]:
        """Drop the channels whose (address, authority) is not in `keep`; return them for closing."""
        gone = [key for key in self._channels if key not in keep]
        return [self._channels.pop(key) for key in gone]

    async def close(self) -> None:
        channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            await channel.close()
