"""grpc.aio channels to upstream endpoints: per (address, authority), one connection or more.

A connection carries at most the peer's MAX_CONCURRENT_STREAMS calls at once; more wait in
grpc's channel (an apex sidecar advertises 1000, docs/limits.md). So a key starts with one
channel and opens another (a separate TCP connection: a distinct channel argument keeps grpc
from sharing the subchannel) once every open one has `per_connection` calls in flight; 100 is
the least RFC 9113 recommends a peer allows. Past `max_connections`, the least busy one is used.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from sidecar.security.tls import ClientTls
from sidecar.transport.grpc_aio.tls import channel_credentials
from sidecar.transport.grpc_aio.wire import UPSTREAM_CHANNEL_OPTIONS

PER_CONNECTION = 100
MAX_CONNECTIONS = 16


class Lane:
    """One channel (one HTTP/2 connection) and the calls in flight on it."""

    __slots__ = ("channel", "generation", "in_flight")

    def __init__(self, channel: grpc.aio.Channel, generation: int = 0) -> None:
        self.channel = channel
        self.in_flight = 0
        self.generation = generation  # the workload certificate it was opened with (mTLS)

    def release(self, _status: object) -> None:  # Request.on_finish
        self.in_flight -= 1


class ChannelPool:
    def __init__(
        self, per_connection: int = PER_CONNECTION, max_connections: int = MAX_CONNECTIONS, tls: ClientTls | None = None
    ) -> None:
        self._lanes: dict[tuple[str, str], list[Lane]] = {}
        self._per_connection = per_connection
        self._max_connections = max_connections
        self._tls = tls
        self._retired: list[Lane] = []  # opened with an older certificate: closed once idle
        self.handshakes = None if tls is None else tls.handshakes  # failed TLS handshakes by reason (mTLS)

    def lane(self, address: str, authority: str) -> Lane:
        """The connection a new call to `address` sending `authority` (empty: the address) goes on."""
        lanes = self._lanes.get((address, authority))
        if lanes is not None and self._tls is not None and lanes[0].generation != self._tls.credentials.generation:
            self._retire(lanes)  # the certificate rotated: new calls go on new connections
            lanes = None
        if lanes is None:
            if self._retired:
                self._close_idle()
            lanes = self._lanes[(address, authority)] = [self._open(address, authority, 0)]
        first = lanes[0]
        if first.in_flight < self._per_connection:
            return first
        return self._spill(address, authority, lanes)

    def _spill(self, address: str, authority: str, lanes: list[Lane]) -> Lane:
        for lane in lanes:
            if lane.in_flight < self._per_connection:
                return lane
        if len(lanes) < self._max_connections:
            lane = self._open(address, authority, len(lanes))
            lanes.append(lane)
            return lane
        return min(lanes, key=lambda lane: lane.in_flight)

    def _open(self, address: str, authority: str, index: int) -> Lane:
        options: tuple[tuple[str, Any], ...] = UPSTREAM_CHANNEL_OPTIONS
        if authority:
            options = (*options, ("grpc.default_authority", authority))
        if index:
            options = (*options, ("apex.connection", index))  # its own subchannel, its own connection
        if self._tls is None:
            return Lane(grpc.aio.insecure_channel(address, options=options))
        creds, generation, tls_options = channel_credentials(self._tls)
        return Lane(grpc.aio.secure_channel(address, creds, options=(*options, *tls_options)), generation)

    def _retire(self, lanes: list[Lane]) -> None:
        """Keep connections opened with the old certificate until their calls finish
        (`reap`), so a rotation fails no call in flight."""
        self._retired.extend(lanes)

    def _close_idle(self) -> None:
        for channel in self.reap():
            task = asyncio.get_running_loop().create_task(channel.close())
            task.add_done_callback(lambda t: t.exception())

    def reap(self) -> list[grpc.aio.Channel]:
        """Retired connections with no call left, for closing."""
        idle = [lane for lane in self._retired if lane.in_flight == 0]
        self._retired = [lane for lane in self._retired if lane.in_flight > 0]
        return [lane.channel for lane in idle]

    def get(self, address: str, authority: str) -> grpc.aio.Channel:
        """The first channel to `address` sending `authority`, created on first use."""
        return self.lane(address, authority).channel

    def lanes(self, address: str, authority: str) -> tuple[Lane, ...]:
        """The open connections to `address` sending `authority`, oldest first."""
        return tuple(self._lanes.get((address, authority), ()))

    def forget(self, keep: set[tuple[str, str]]) -> list[grpc.aio.Channel]:
        """Drop the channels whose (address, authority) is not in `keep`; return them for closing."""
        gone = [key for key in self._lanes if key not in keep]
        return [lane.channel for key in gone for lane in self._lanes.pop(key)]

    async def close(self) -> None:
        lanes, self._lanes = [lane for group in self._lanes.values() for lane in group], {}
        lanes, self._retired = [*lanes, *self._retired], []
        for lane in lanes:
            await lane.channel.close()
