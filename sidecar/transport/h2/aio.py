"""asyncio glue shared by the h2 listener and connector: a Protocol around a GrpcConnection, and inbound streams."""

from __future__ import annotations

import asyncio
import urllib.parse
from collections import deque
from collections.abc import Iterable
from typing import Any

from sidecar.core.call import Code, Metadata, Status
from sidecar.core.compression import Compressed
from sidecar.transport.h2.connection import GrpcConnection
from sidecar.transport.h2.events import Event, WindowOpened
from sidecar.transport.h2.grpc_wire import MessageDecoder, MessageTooLarge, headers_from_metadata, metadata_from_headers

HIGH_WATER = 256 * 1024  # queued bytes per stream (either way) before the other side is made to wait

# Metadata the caller's gRPC library adds for its own hop; apex-authority is read as the authority.
# (grpc-encoding and grpc-accept-encoding pass: compressed messages are relayed as they are.)
HOP_BY_HOP = frozenset({"user-agent", "te", "content-type"})
AUTHORITY_KEY = "apex-authority"


class Ledger:
    """What the transport's connections hold in memory: bytes now (summed over live connections on
    request) and the most one connection held, noted wherever a buffer grows past HIGH_WATER (where a
    slow reader or a slow peer makes data wait; below it every buffer is bounded by HIGH_WATER)."""

    __slots__ = ("connections", "peak")

    def __init__(self) -> None:
        self.connections: set[H2Protocol] = set()
        self.peak = 0  # bytes: the largest `held()` of one connection seen at a growth point

    def note(self, proto: H2Protocol) -> None:
        held = proto.held()
        if held > self.peak:
            self.peak = held

    def held(self) -> int:
        return sum(proto.held() for proto in self.connections)


class Inbound:
    """Messages arriving on one stream for one reader. DATA is credited back to the peer at once
    while fewer than HIGH_WATER bytes of whole messages wait unread, else as the reader takes them."""

    __slots__ = ("_decoder", "_proto", "_queue", "_queued", "_uncredited", "_waiter", "encoding", "ended", "error",
                 "sid")  # fmt: skip

    def __init__(self, proto: H2Protocol, sid: int, max_message: int) -> None:
        self._proto = proto
        self.sid = sid
        self._decoder = MessageDecoder(max_message)
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._uncredited = 0
        self.encoding = "identity"  # the stream's grpc-encoding, for messages with the compressed flag
        self.ended = False
        self.error: Status | None = None
        self._waiter: asyncio.Future[None] | None = None

    def on_data(self, data: bytes, end: bool) -> None:
        if self.error is not None:  # refused or failed: drop what still arrives, keep the window open
            self._proto.conn.consumed(self.sid, len(data))
            return
        try:
            messages = self._decoder.feed(data)
        except MessageTooLarge as exc:
            self._proto.conn.consumed(self.sid, len(data))
            self.fail(Status(Code.RESOURCE_EXHAUSTED, str(exc)))
            return
        for compressed, message in messages:
            if compressed:
                if self.encoding == "identity":
                    self._proto.conn.consumed(self.sid, len(data))
                    self.fail(Status(Code.INTERNAL, "apex: compressed message without a grpc-encoding"))
                    return
                message = Compressed(message, self.encoding)  # relayed as is, flag and all
            self._queue.append(message)
            self._queued += len(message)
        if self._queued < HIGH_WATER:
            self._proto.conn.consumed(self.sid, len(data) + self._uncredited)
            self._uncredited = 0
        else:
            self._uncredited += len(data)
            self._proto.ledger.note(self._proto)  # the reader is behind: this is where memory grows
        if end:
            self.ended = True
        self._wake()

    @property
    def held(self) -> int:
        """Bytes waiting here: whole messages not yet read and a partial one being assembled."""
        return self._queued + self._decoder.buffered

    def fail(self, status: Status) -> None:
        if self.error is None:
            self.error = status
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def read(self) -> bytes | None:
        while not self._queue:
            if self.ended or self.error is not None:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        message = self._queue.popleft()
        self._queued -= len(message)
        if self._uncredited and self._queued < HIGH_WATER:
            self._proto.conn.consumed(self.sid, self._uncredited)
            self._uncredited = 0
            self._proto.flush()
        return message


class H2Protocol(asyncio.Protocol):
    """Feeds bytes to the sans-IO core, writes what it answers, and wakes writers as windows open."""

    def __init__(self, conn: GrpcConnection, ledger: Ledger | None = None) -> None:
        self.conn = conn
        self.ledger = ledger or Ledger()
        self.loop = asyncio.get_running_loop()
        self.transport: Any = None  # asyncio.Transport (uvloop's does not subclass it)
        self.peer = ""
        self._paused = False
        self._flush_scheduled = False
        self._writers: dict[int, asyncio.Future[None]] = {}
        self.lost: asyncio.Future[None] = self.loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.ledger.connections.add(self)
        peer = transport.get_extra_info("peername")
        self.peer = f"ipv4:{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer or "")
        self.flush()

    def data_received(self, data: bytes) -> None:
        for event in self.conn.receive_data(data, self.loop.time()):
            if type(event) is WindowOpened:
                self._wake_writer(event.stream_id)
            else:
                self.on_event(event)
        if self.conn.terminated is not None and self.transport is not None:
            self.flush()  # the GOAWAY goes out before the close
            self.transport.close()
        else:
            # At the end of this iteration: ACKs and WINDOW_UPDATEs share one write with what the calls
            # woken by these events answer meanwhile (a PING ACK alone was a write syscall per call).
            self.flush_soon()

    def on_event(self, event: Event) -> None:
        raise NotImplementedError

    def inbounds(self) -> Iterable[Inbound]:
        """The streams' inbound buffers (for the ledger)."""
        raise NotImplementedError

    def held(self) -> int:
        """Bytes this connection holds: the core's (parse buffer, header block, queued output and
        DATA waiting for window) and every stream's unread messages."""
        return self.conn.memory() + sum(inbound.held for inbound in self.inbounds())

    def flush_soon(self) -> None:
        """Write at the end of this loop iteration: frames queued meanwhile (a unary call's message
        and its END_STREAM, several streams' answers) go out in one write."""
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        self._flush_scheduled = False
        out = self.conn.data_to_send()
        if out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(out)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        for sid in list(self._writers):
            self._wake_writer(sid)

    def _wake_writer(self, sid: int) -> None:
        waiter = self._writers.pop(sid, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def drain(self, sid: int) -> None:
        """Wait while this stream's queued DATA is above HIGH_WATER or the socket is paused."""
        while (self._paused or self.conn.buffered(sid) > HIGH_WATER) and not self.lost.done():
            self.ledger.note(self)  # the peer or the socket is behind: this is where memory grows
            waiter = self._writers[sid] = self.loop.create_future()
            await waiter

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.ledger.connections.discard(self)
        if not self.lost.done():
            self.lost.set_result(None)
        for sid in list(self._writers):
            self._wake_writer(sid)


def header_encoding(headers: list[tuple[bytes, bytes]]) -> str:
    """A header block's grpc-encoding, lower case ("identity" when absent)."""
    for name, value in headers:
        if name == b"grpc-encoding":
            return value.decode("ascii", "replace").strip().lower()
    return "identity"


def grpc_headers(metadata: Metadata) -> list[tuple[bytes, bytes]]:
    return headers_from_metadata(list(metadata))


def call_metadata(headers: list[tuple[bytes, bytes]]) -> tuple[Metadata, str]:
    """Forwardable metadata in wire order and the apex-authority value, if any."""
    forward: list[tuple[str, str | bytes]] = []
    authority = ""
    for key, value in metadata_from_headers(headers):
        if key == AUTHORITY_KEY:
            authority = value.decode() if isinstance(value, bytes) else value
        elif key not in HOP_BY_HOP:
            forward.append((key, value))
    return tuple(forward), authority.lower()


_MESSAGE_SAFE = " !\"#$&'()*+,-./:;<=>?@[\\]^_`{|}~"  # printable ASCII except %: sent as is (gRPC spec)


def status_headers(status: Status) -> list[tuple[bytes, bytes]]:
    out = [(b"grpc-status", str(int(status.code)).encode())]
    if status.details:
        out.append((b"grpc-message", urllib.parse.quote(status.details, safe=_MESSAGE_SAFE).encode()))
    return out + grpc_headers(status.trailing_metadata)


def status_from_headers(headers: list[tuple[bytes, bytes]]) -> Status:
    code: Any = None
    details = ""
    for name, value in headers:
        if name == b"grpc-status":
            code = value
        elif name == b"grpc-message":
            details = urllib.parse.unquote(value.decode("utf-8", "replace"))
    if code is None:
        return Status(Code.INTERNAL, "apex: upstream ended the call without grpc-status")
    try:
        parsed = Code(int(code))
    except ValueError:
        parsed = Code.UNKNOWN
    metadata, _ = call_metadata([(n, v) for n, v in headers if n not in (b"grpc-status", b"grpc-message")])
    return Status(parsed, details, metadata)
