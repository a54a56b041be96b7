"""The gRPC interop TestService (grpc/grpc doc/interop-test-descriptions.md), written for this suite.

- Its messages, built at import from a descriptor written below (package grpc.testing, the field
  numbers of grpc's messages.proto; no .proto copied), for grpc clients in the tests.
- `InteropServer`: the service on a raw HTTP/2 server (python-hyper h2 on asyncio, in a thread).
  No grpc library server shows whether a request message was compressed or lets a handler set the
  compressed flag per response message; this one does both, so the compressed interop cases can be
  checked end to end, and it records what each call carried (`seen`) for tests to compare.
- `raw_call`: a raw HTTP/2 client call that sends messages with chosen compressed flags and returns
  the flags of the answer's messages (a grpc client hides them too).

Server features (the description's names): EmptyCall, UnaryCall, StreamingInputCall,
StreamingOutputCall, FullDuplexCall, CompressedRequest (expect_compressed: a message whose flag
does not match is refused INVALID_ARGUMENT, either way), CompressedResponse (response_compressed,
ResponseParameters.compressed: flag set per message; `grpc-encoding: gzip` is sent when a call
compresses some answer), Echo Status, Echo Metadata, ResponseParameters.interval_us; any other
method or service: UNIMPLEMENTED.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import struct
import threading
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

SERVICE = "grpc.testing.TestService"
_F = descriptor_pb2.FieldDescriptorProto


def _descriptor() -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto(name="apex_tests/interop.proto", package="grpc.testing", syntax="proto3")
    kind = file.enum_type.add(name="PayloadType")
    kind.value.add(name="COMPRESSABLE", number=0)
    scalar = {"bool": _F.TYPE_BOOL, "bytes": _F.TYPE_BYTES, "int32": _F.TYPE_INT32, "string": _F.TYPE_STRING}

    def message(name: str, *fields: tuple[str, int, str]) -> None:
        m = file.message_type.add(name=name)
        for field_name, number, type_name in fields:
            repeated = type_name.startswith("repeated ")
            type_name = type_name.removeprefix("repeated ")
            f = m.field.add(name=field_name, number=number, label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL)
            if type_name in scalar:
                f.type = scalar[type_name]  # type: ignore[assignment]
            else:
                f.type = _F.TYPE_ENUM if type_name == "PayloadType" else _F.TYPE_MESSAGE  # type: ignore[assignment]
                f.type_name = f".grpc.testing.{type_name}"

    message("Empty")
    message("BoolValue", ("value", 1, "bool"))
    message("Payload", ("type", 1, "PayloadType"), ("body", 2, "bytes"))
    message("EchoStatus", ("code", 1, "int32"), ("message", 2, "string"))
    message(
        "SimpleRequest", ("response_type", 1, "PayloadType"), ("response_size", 2, "int32"), ("payload", 3, "Payload"),
        ("fill_username", 4, "bool"), ("fill_oauth_scope", 5, "bool"), ("response_compressed", 6, "BoolValue"),
        ("response_status", 7, "EchoStatus"), ("expect_compressed", 8, "BoolValue"),
    )  # fmt: skip
    message("SimpleResponse", ("payload", 1, "Payload"), ("username", 2, "string"), ("oauth_scope", 3, "string"))
    message("StreamingInputCallRequest", ("payload", 1, "Payload"), ("expect_compressed", 2, "BoolValue"))
    message("StreamingInputCallResponse", ("aggregated_payload_size", 1, "int32"))
    message("ResponseParameters", ("size", 1, "int32"), ("interval_us", 2, "int32"), ("compressed", 3, "BoolValue"))
    message(
        "StreamingOutputCallRequest", ("response_type", 1, "PayloadType"),
        ("response_parameters", 2, "repeated ResponseParameters"), ("payload", 3, "Payload"),
        ("response_compressed", 6, "BoolValue"), ("response_status", 7, "EchoStatus"),
    )  # fmt: skip
    message("StreamingOutputCallResponse", ("payload", 1, "Payload"))
    return file


_POOL = descriptor_pool.DescriptorPool()
_POOL.Add(_descriptor())


def _cls(name: str) -> Any:
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"grpc.testing.{name}"))


Empty = _cls("Empty")
BoolValue = _cls("BoolValue")
Payload = _cls("Payload")
EchoStatus = _cls("EchoStatus")
SimpleRequest = _cls("SimpleRequest")
SimpleResponse = _cls("SimpleResponse")
StreamingInputCallRequest = _cls("StreamingInputCallRequest")
StreamingInputCallResponse = _cls("StreamingInputCallResponse")
ResponseParameters = _cls("ResponseParameters")
StreamingOutputCallRequest = _cls("StreamingOutputCallRequest")
StreamingOutputCallResponse = _cls("StreamingOutputCallResponse")

# method -> (request class, response class)
METHODS: dict[str, tuple[Any, Any]] = {
    "EmptyCall": (Empty, Empty),
    "UnaryCall": (SimpleRequest, SimpleResponse),
    "StreamingInputCall": (StreamingInputCallRequest, StreamingInputCallResponse),
    "StreamingOutputCall": (StreamingOutputCallRequest, StreamingOutputCallResponse),
    "FullDuplexCall": (StreamingOutputCallRequest, StreamingOutputCallResponse),
}


def path(method: str, service: str = SERVICE) -> str:
    return f"/{service}/{method}"


def frame(message: bytes, compressed: bool = False) -> bytes:
    """One length-prefixed gRPC message; gzip-compressed (flag 1) when asked."""
    body = gzip.compress(message) if compressed else message
    return struct.pack(">BI", int(compressed), len(body)) + body


class Frames:
    """Whole (flag, body) messages out of a byte stream, however it is split."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buf += data
        out: list[tuple[int, bytes]] = []
        while len(self._buf) >= 5:
            flag, size = struct.unpack(">BI", self._buf[:5])
            if len(self._buf) < 5 + size:
                break
            out.append((flag, self._buf[5 : 5 + size]))
            self._buf = self._buf[5 + size :]
        return out


_MESSAGE_SAFE = " !\"#$&'()*+,-./:;<=>?@[\\]^_`{|}~"


def status_message(text: str) -> bytes:
    return urllib.parse.quote(text, safe=_MESSAGE_SAFE).encode()


# --- the server ---------------------------------------------------------------------------------


@dataclass
class Seen:
    """What one call carried to the server."""

    path: str
    encoding: str  # the request's grpc-encoding header ("" when absent)
    flags: list[int] = field(default_factory=list)  # compressed flag of each request message the handler read
    cancelled: bool = False


class _Abort(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class _Stream:
    def __init__(self, sid: int, headers: dict[str, str], seen: Seen) -> None:
        self.sid = sid
        self.headers = headers
        self.seen = seen
        self.frames = Frames()
        self.messages: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
        self.sent_headers = False
        self.trailers: list[tuple[str, str]] = []
        self.task: asyncio.Task[None] | None = None


class _Connection(asyncio.Protocol):
    def __init__(self, server: InteropServer) -> None:
        self.server = server
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        self.transport: Any = None
        self.streams: dict[int, _Stream] = {}
        self.windows: dict[int, asyncio.Event] = {}

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.conn.initiate_connection()
        self.flush()

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.flush()
            self.transport.close()
            return
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                headers = {str(k): str(v) for k, v in event.headers}
                seen = Seen(headers.get(":path", ""), headers.get("grpc-encoding", ""))
                self.server.seen.append(seen)
                stream = self.streams[event.stream_id] = _Stream(event.stream_id, headers, seen)
                stream.task = asyncio.ensure_future(self.serve(stream))
            elif isinstance(event, h2.events.DataReceived):
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                found = self.streams.get(event.stream_id)
                if found is not None:
                    for message in found.frames.feed(event.data):
                        found.messages.put_nowait(message)
            elif isinstance(event, h2.events.StreamEnded):
                found = self.streams.get(event.stream_id)
                if found is not None:
                    found.messages.put_nowait(None)
            elif isinstance(event, h2.events.StreamReset):
                found = self.streams.pop(event.stream_id, None)
                if found is not None:
                    found.seen.cancelled = True
                    if found.task is not None:
                        found.task.cancel()
            elif isinstance(event, h2.events.WindowUpdated):
                for sid, waiter in list(self.windows.items()):
                    if event.stream_id in (0, sid):
                        waiter.set()
        self.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        for stream in self.streams.values():
            stream.seen.cancelled = True
            if stream.task is not None:
                stream.task.cancel()
        for waiter in self.windows.values():
            waiter.set()

    # --- one call -------------------------------------------------------------------------------

    def _send_headers(self, stream: _Stream, compress: bool) -> None:
        if stream.sent_headers:
            return
        headers = [(":status", "200"), ("content-type", "application/grpc")]
        if compress:
            headers.append(("grpc-encoding", "gzip"))
        if "x-grpc-test-echo-initial" in stream.headers:
            headers.append(("x-grpc-test-echo-initial", stream.headers["x-grpc-test-echo-initial"]))
        self.conn.send_headers(stream.sid, headers)
        stream.sent_headers = True

    async def send(self, stream: _Stream, message: bytes, compressed: bool) -> None:
        self._send_headers(stream, compressed)
        data = frame(message, compressed)
        while data:
            if self.transport is None:
                raise asyncio.CancelledError
            size = min(self.conn.local_flow_control_window(stream.sid), self.conn.max_outbound_frame_size, len(data))
            if size <= 0:
                waiter = self.windows[stream.sid] = asyncio.Event()
                await waiter.wait()
                self.windows.pop(stream.sid, None)
                continue
            self.conn.send_data(stream.sid, data[:size])
            data = data[size:]
            self.flush()

    def finish(self, stream: _Stream, code: int, message: str = "") -> None:
        trailers = [("grpc-status", str(code))]
        if message:
            trailers.append(("grpc-message", status_message(message).decode()))
        if "x-grpc-test-echo-trailing-bin" in stream.headers:
            trailers.append(("x-grpc-test-echo-trailing-bin", stream.headers["x-grpc-test-echo-trailing-bin"]))
        if stream.sent_headers:
            self.conn.send_headers(stream.sid, trailers, end_stream=True)
        else:  # trailers-only
            head = [(":status", "200"), ("content-type", "application/grpc")]
            if "x-grpc-test-echo-initial" in stream.headers:
                head.append(("x-grpc-test-echo-initial", stream.headers["x-grpc-test-echo-initial"]))
            self.conn.send_headers(stream.sid, head + trailers, end_stream=True)
        self.flush()

    async def receive(self, stream: _Stream, cls: Any, expect: Any = None) -> Any:
        """The next request message decoded, or None at the end of the request stream."""
        got = await stream.messages.get()
        if got is None:
            return None
        flag, body = got
        stream.seen.flags.append(flag)
        if flag:
            if stream.headers.get("grpc-encoding") != "gzip":
                raise _Abort(13, f"compressed message with grpc-encoding {stream.headers.get('grpc-encoding')!r}")
            body = gzip.decompress(body)
        request = cls.FromString(body)
        if hasattr(request, "expect_compressed") and request.HasField("expect_compressed"):
            if request.expect_compressed.value and not flag:
                raise _Abort(3, "Expected compressed request, but got uncompressed one")
            if not request.expect_compressed.value and flag:
                raise _Abort(3, "Expected uncompressed request, but got compressed one")
        return request

    def accepts_gzip(self, stream: _Stream) -> bool:
        return "gzip" in stream.headers.get("grpc-accept-encoding", "")

    async def serve(self, stream: _Stream) -> None:
        service, _, method = stream.headers.get(":path", "").lstrip("/").partition("/")
        try:
            if service != SERVICE or method not in METHODS:
                raise _Abort(12, f"Method not found: {stream.headers.get(':path')}")
            await getattr(self, f"_{method}")(stream)
            self.finish(stream, 0)
        except _Abort as abort:
            self.finish(stream, abort.code, abort.message)
        except asyncio.CancelledError:
            return
        finally:
            self.streams.pop(stream.sid, None)

    @staticmethod
    def _status(request: Any) -> None:
        if request.HasField("response_status") and request.response_status.code:
            raise _Abort(request.response_status.code, request.response_status.message)

    async def _EmptyCall(self, stream: _Stream) -> None:
        await self.receive(stream, Empty)
        await self.send(stream, b"", False)

    async def _UnaryCall(self, stream: _Stream) -> None:
        request = await self.receive(stream, SimpleRequest)
        self._status(request)
        compress = request.response_compressed.value and self.accepts_gzip(stream)
        reply = SimpleResponse(payload=Payload(body=b"\0" * request.response_size))
        await self.send(stream, reply.SerializeToString(), compress)

    async def _StreamingInputCall(self, stream: _Stream) -> None:
        total = 0
        while (request := await self.receive(stream, StreamingInputCallRequest)) is not None:
            total += len(request.payload.body)
        await self.send(stream, StreamingInputCallResponse(aggregated_payload_size=total).SerializeToString(), False)

    async def _respond(self, stream: _Stream, request: Any) -> None:
        for p in request.response_parameters:
            if p.interval_us:
                await asyncio.sleep(p.interval_us / 1e6)
            compress = (p.compressed.value or request.response_compressed.value) and self.accepts_gzip(stream)
            reply = StreamingOutputCallResponse(payload=Payload(body=b"\0" * p.size))
            await self.send(stream, reply.SerializeToString(), compress)

    async def _StreamingOutputCall(self, stream: _Stream) -> None:
        request = await self.receive(stream, StreamingOutputCallRequest)
        if request is None:
            return
        compress = request.response_compressed.value or any(p.compressed.value for p in request.response_parameters)
        self._send_headers(stream, compress and self.accepts_gzip(stream))
        await self._respond(stream, request)
        self._status(request)

    async def _FullDuplexCall(self, stream: _Stream) -> None:
        while (request := await self.receive(stream, StreamingOutputCallRequest)) is not None:
            self._status(request)
            await self._respond(stream, request)


class InteropServer:
    """The TestService on 127.0.0.1, served from a thread with its own event loop."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="interop-server")
        self._server: asyncio.Server | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> InteropServer:
        self._thread.start()

        async def bind() -> asyncio.Server:
            return await self._loop.create_server(lambda: _Connection(self), "127.0.0.1", 0)

        self._server = asyncio.run_coroutine_threadsafe(bind(), self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def calls(self, method: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path(method)]

    def close(self) -> None:
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


# --- a raw client call ------------------------------------------------------------------------


@dataclass
class RawAnswer:
    status: int | None
    message: str
    headers: dict[str, str]
    trailers: dict[str, str]
    messages: list[tuple[int, bytes]]  # (compressed flag, body as sent: still compressed when flagged)
    reset: int | None = None  # RST_STREAM error code, if the stream was reset

    def bodies(self) -> list[bytes]:
        """The answer's messages uncompressed (gzip where flagged)."""
        return [gzip.decompress(b) if flag else b for flag, b in self.messages]

    @property
    def flags(self) -> list[int]:
        return [flag for flag, _ in self.messages]


def raw_call(
    address: str,
    method_path: str,
    messages: Iterable[tuple[bytes, bool]],
    headers: Iterable[tuple[str, str]] = (),
    timeout: float = 20.0,
    half_close: bool = True,
) -> RawAnswer:
    """One call with each (message, compressed) sent as given (compressed ones gzip with
    `grpc-encoding: gzip`), half-closed (unless `half_close` is False: the request stream then stays
    open until the answer has ended), then read to its end."""
    host, _, port = address.rpartition(":")
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    items = list(messages)
    payload = [frame(m, c) for m, c in items]
    encoding = [("grpc-encoding", "gzip")] if any(c for _, c in items) else []
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        conn.initiate_connection()
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, [
            (":method", "POST"), (":scheme", "http"), (":path", method_path), (":authority", address),
            ("content-type", "application/grpc"), ("te", "trailers"), ("grpc-accept-encoding", "identity,gzip"),
            *encoding,
            *headers,
        ])  # fmt: skip
        data = b"".join(payload)
        answer = RawAnswer(None, "", {}, {}, [])
        frames = Frames()
        ended = False

        def pump(events: list[Any]) -> None:
            nonlocal ended
            for event in events:
                if isinstance(event, h2.events.ResponseReceived):
                    answer.headers.update({str(k): str(v) for k, v in event.headers})
                elif isinstance(event, h2.events.TrailersReceived):
                    answer.trailers.update({str(k): str(v) for k, v in event.headers})
                elif isinstance(event, h2.events.DataReceived):
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    answer.messages.extend(frames.feed(event.data))
                elif isinstance(event, h2.events.StreamReset):
                    answer.reset, ended = int(event.error_code), True
                if isinstance(event, h2.events.StreamEnded):
                    ended = True
            sock.sendall(conn.data_to_send())

        def receive() -> None:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed before the call ended")
            pump(conn.receive_data(chunk))

        sock.sendall(conn.data_to_send())
        while data and not ended:
            size = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size, len(data))
            if size <= 0:
                receive()
                continue
            conn.send_data(sid, data[:size])
            data = data[size:]
            sock.sendall(conn.data_to_send())
        if not ended and half_close:
            conn.end_stream(sid)
            sock.sendall(conn.data_to_send())
        while not ended:
            receive()
    merged = {**answer.headers, **answer.trailers}
    status = merged.get("grpc-status")
    answer.status = None if status is None else int(status)
    answer.message = urllib.parse.unquote(merged.get("grpc-message", ""))
    return answer
