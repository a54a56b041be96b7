"""The upstream side: relay a Request to one endpoint over a pooled grpc.aio channel.

Responses are read through the cython call under grpc.aio (internals.py says why and checks it).
Methods known to be unary (the transport's MethodKinds, learned over reflection and shared with
its listeners) go out as unary calls: one batch each way instead of a stream's several.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc

from sidecar.core import errors
from sidecar.core.call import CallDescriptor, Code, Metadata, Status
from sidecar.core.compression import decompress
from sidecar.core.service import Request
from sidecar.security.handshake import HandshakeFailures, reason_in_text
from sidecar.transport.grpc_aio import reflection
from sidecar.transport.grpc_aio.channels import ChannelPool
from sidecar.transport.grpc_aio.internals import WRITE_LOST_RACE, RawCall, RawStatus, metadata_sent, raw_call
from sidecar.transport.grpc_aio.method_kinds import Kind, MethodKinds
from sidecar.transport.grpc_aio.wire import OrderedMetadata, as_metadata, split_compression

log = logging.getLogger(__name__)


async def _pump(call: Any, raw: RawCall, messages: AsyncIterator[bytes]) -> None:
    """Copy the caller's request stream to the upstream call, then half-close it."""
    try:
        await metadata_sent(call).wait()
        async for message in messages:
            if call.done():
                return
            await raw.send_serialized_message(decompress(message))  # grpc core compresses as the call says
        if not call.done():
            await raw.send_receive_close()
    except asyncio.CancelledError:
        raise
    except (*WRITE_LOST_RACE, grpc.aio.AioRpcError, asyncio.InvalidStateError):
        return  # the upstream finished first; its own status stands
    except Exception:
        log.debug("request stream ended abnormally; cancelling the upstream call", exc_info=True)
        call.cancel()


# What grpc-core itself writes when a call fails in the transport, before or without an answer
# from the upstream (these name internal addresses: `ipv4:10.0.3.7:50051: Connection refused`).
_CONNECT_FAILURE = re.compile(
    r"failed to connect to all addresses|connections to all backends failing|Connection refused"
    r"|DNS resolution failed|empty address list"
)
_CONNECTION_LOST = re.compile(
    r"Socket closed|(recvmsg:)?Connection reset by peer|GOAWAY received|Broken pipe|keepalive watchdog timeout"
    r"|Endpoint read failed"
)
_HIDDEN_CODES = (Code.UNAVAILABLE, Code.UNKNOWN, Code.INTERNAL)
# What the caller reads instead ("could not connect" is a connect failure to the outlier detector).
UPSTREAM_UNREACHABLE = "apex: could not connect to the upstream"
UPSTREAM_LOST = "apex: connection to the upstream lost"


def _status(raw: RawStatus, call: CallDescriptor, failures: HandshakeFailures | None = None) -> Status:
    """The call's final status: as the upstream sent it, except grpc-core's own transport failures,
    which reach the caller as UPSTREAM_UNREACHABLE (the detail is logged at DEBUG with the trace id).
    Under mTLS a failed handshake is counted by reason (per failed call: grpc-core hides the handshakes)."""
    code = Code(raw.code())
    details = raw.details() or ""
    trailers = as_metadata(raw.trailing_metadata())
    if failures is not None and code is Code.UNAVAILABLE and (why := reason_in_text(details)) is not None:
        failures[why] += 1
    if code in _HIDDEN_CODES and details:
        public = (
            UPSTREAM_UNREACHABLE if _CONNECT_FAILURE.match(details) else
            UPSTREAM_LOST if _CONNECTION_LOST.match(details) else None
        )  # fmt: skip
        if public is not None:
            return Status(code, errors.hidden(call, code, public, details, level=logging.DEBUG).details, trailers)
    return Status(code, details, trailers)


class UpstreamResponse:
    """Adapts a grpc.aio stream-stream call to the Response protocol."""

    __slots__ = ("_call", "_failures", "_info", "_pump", "_raw", "connecting")

    def __init__(
        self,
        call: grpc.aio.StreamStreamCall[Any, Any],
        messages: AsyncIterator[bytes],
        info: CallDescriptor,
        connecting: bool = False,
        failures: HandshakeFailures | None = None,
    ) -> None:
        self._call = call
        self._info = info
        self._failures = failures
        self._raw = raw = raw_call(call)
        self._pump = asyncio.get_running_loop().create_task(_pump(call, raw, messages))
        # The channel was not READY when the call started: its latency includes connection setup.
        self.connecting = connecting

    async def initial_metadata(self) -> Metadata:
        return as_metadata(await self._raw.initial_metadata())

    async def read(self) -> bytes | None:
        try:
            message = await self._call.read()
        except grpc.aio.AioRpcError:
            return None  # the status carries the error
        return None if message is grpc.aio.EOF else message

    async def status(self) -> Status:
        status = _status(await self._raw.status(), self._info, self._failures)
        if not self._pump.done():
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        return status

    def cancel(self) -> None:
        self._pump.cancel()
        self._call.cancel()


class UnaryUpstreamResponse:
    """Adapts a grpc.aio unary-unary call (the cheaper path for methods known to be unary)."""

    __slots__ = ("_call", "_done", "_failures", "_info", "_raw", "connecting")

    def __init__(
        self,
        call: grpc.aio.UnaryUnaryCall[Any, Any],
        info: CallDescriptor,
        connecting: bool = False,
        failures: HandshakeFailures | None = None,
    ) -> None:
        self._call = call
        self._info = info
        self._failures = failures
        self._raw = raw_call(call)
        self._done = False
        self.connecting = connecting

    async def initial_metadata(self) -> Metadata:
        return as_metadata(await self._raw.initial_metadata())

    async def read(self) -> bytes | None:
        if self._done:
            return None
        self._done = True
        try:
            message: bytes = await self._call
        except grpc.aio.AioRpcError:
            return None  # the status carries the error
        return message

    async def status(self) -> Status:
        return _status(await self._raw.status(), self._info, self._failures)

    def cancel(self) -> None:
        self._call.cancel()


class GrpcConnector:
    """Opens a pass-through call to an endpoint on a pooled channel (channels.py: one connection
    per endpoint and authority, more while they are all busy).

    Methods in `kinds` known to be unary go out as unary calls; for the rest, the first call to
    a service starts a background reflection lookup so its unary methods can take that path too.
    """

    def __init__(self, kinds: MethodKinds, pool: ChannelPool | None = None) -> None:
        self.pool = pool or ChannelPool()
        self._kinds = kinds
        self._lookups: set[asyncio.Task[None]] = set()

    async def __call__(
        self, address: str, authority: str, request: Request
    ) -> UpstreamResponse | UnaryUpstreamResponse:
        deadline = request.call.deadline
        timeout = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        lane = self.pool.lane(address, authority)
        channel = lane.channel
        connecting = channel.get_state() is not grpc.ChannelConnectivity.READY
        lane.in_flight += 1
        request.on_finish(lane.release)
        call_info = request.call
        kinds = self._kinds
        metadata, compress = split_compression(call_info.metadata)
        if kinds.is_unary(call_info.method):
            message = decompress(await anext(request.messages, b""))
            unary = channel.unary_unary(call_info.method)(
                message, metadata=OrderedMetadata(metadata), timeout=timeout, compression=compress
            )
            return UnaryUpstreamResponse(unary, call_info, connecting, self.pool.handshakes)
        if kinds.should_ask(call_info.service, time.monotonic()):
            self._learn(channel, call_info.service)
        multicallable = channel.stream_stream(call_info.method)
        call = multicallable(metadata=OrderedMetadata(metadata), timeout=timeout, compression=compress)
        return UpstreamResponse(call, request.messages, call_info, connecting, self.pool.handshakes)

    def _learn(self, channel: grpc.aio.Channel, service: str) -> None:
        async def lookup() -> None:
            found = await reflection.service_kinds(channel, service)
            self._kinds.learn(service, found)
            if found:
                unary = sum(k is Kind.UNARY for k in found.values())
                log.info("learned %s: %d methods, %d unary (relayed as unary calls)", service, len(found), unary)

        task = asyncio.get_running_loop().create_task(lookup())
        self._lookups.add(task)
        task.add_done_callback(self._lookups.discard)

    async def close(self) -> None:
        for task in list(self._lookups):
            task.cancel()
        await self.pool.close()
