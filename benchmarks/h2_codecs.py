"""The HTTP/2 codec candidates of issue 13 behind one small interface, for the relay benchmark only.

Each codec is sans-IO: `receive(bytes) -> [(kind, stream_id, value, end_stream)]` and
`pending() -> bytes`. Kinds: HEADERS (value: header list), DATA (bytes), RESET (error code).
  * "h2"    — python-hyper h2 (its events and state machine);
  * "own"   — hpack for header blocks, framing and a gRPC-sized state machine of our own
              (hyperframe's frame classes are not used on the hot path: one object per frame costs);
  * "ngh2"  — libnghttp2 through the `ngh2` binding (optional; absent -> the candidate is skipped).
The relay assumes small unary calls (windows never run out); the real transport does flow control.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

HEADERS, DATA, RESET, OTHER = 0, 1, 2, 3
Event = tuple[int, int, Any, bool]
Headers = list[tuple[bytes, bytes]]


class Codec(Protocol):
    def receive(self, data: bytes) -> list[Event]: ...
    def request(self, headers: Headers, end: bool) -> int: ...
    def respond(self, stream_id: int, headers: Headers, end: bool) -> None: ...
    def trailers(self, stream_id: int, headers: Headers) -> None: ...
    def data(self, stream_id: int, data: bytes, end: bool) -> None: ...
    def reset(self, stream_id: int, code: int) -> None: ...
    def pending(self) -> bytes: ...


class H2Codec:
    def __init__(self, client: bool) -> None:
        import h2.config
        import h2.connection
        import h2.events as ev

        self._ev = ev
        config = h2.config.H2Configuration(
            client_side=client,
            header_encoding=None,
            validate_inbound_headers=False,
            validate_outbound_headers=False,
            normalize_inbound_headers=False,
            normalize_outbound_headers=False,
        )
        self.c = h2.connection.H2Connection(config)
        self.c.initiate_connection()
        self.c.increment_flow_control_window(2**24)

    def receive(self, data: bytes) -> list[Event]:
        ev, c, out = self._ev, self.c, []
        events: list[Any] = c.receive_data(data)
        for e in events:
            t = type(e)
            if t is ev.RequestReceived or t is ev.ResponseReceived or t is ev.TrailersReceived:
                out.append((HEADERS, e.stream_id, e.headers, e.stream_ended is not None))
            elif t is ev.DataReceived:
                if e.flow_controlled_length:
                    c.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
                out.append((DATA, e.stream_id, e.data, e.stream_ended is not None))
            elif t is ev.StreamReset:
                out.append((RESET, e.stream_id, e.error_code, True))
        return out

    def request(self, headers: Headers, end: bool) -> int:
        sid: int = self.c.get_next_available_stream_id()
        self.c.send_headers(sid, headers, end_stream=end)
        return sid

    def respond(self, stream_id: int, headers: Headers, end: bool) -> None:
        self.c.send_headers(stream_id, headers, end_stream=end)

    def trailers(self, stream_id: int, headers: Headers) -> None:
        self.c.send_headers(stream_id, headers, end_stream=True)

    def data(self, stream_id: int, data: bytes, end: bool) -> None:
        self.c.send_data(stream_id, data, end_stream=end)

    def reset(self, stream_id: int, code: int) -> None:
        self.c.reset_stream(stream_id, code)

    def pending(self) -> bytes:
        out: bytes = self.c.data_to_send()
        return out


class NgCodec:
    def __init__(self, client: bool) -> None:
        import ngh2

        self._ng = ngh2
        self.c = ngh2.Connection(ngh2.Role.CLIENT if client else ngh2.Role.SERVER)
        self.c.initiate_connection()
        self.c.set_local_window_size(2**24)

    def receive(self, data: bytes) -> list[Event]:
        ng, out = self._ng, []
        self.c.receive_data(data)
        events: list[Any] = self.c.events()
        for e in events:
            t = type(e)
            if t is ng.RequestReceived or t is ng.ResponseReceived:
                out.append((HEADERS, e.stream_id, e.headers, e.end_stream))
            elif t is ng.TrailersReceived:
                out.append((HEADERS, e.stream_id, e.headers, True))
            elif t is ng.DataReceived:
                out.append((DATA, e.stream_id, e.data, e.end_stream))
            elif t is ng.StreamReset:
                out.append((RESET, e.stream_id, e.error_code, True))
        return out

    def request(self, headers: Headers, end: bool) -> int:
        return self.c.send_request(headers, end_stream=end)

    def respond(self, stream_id: int, headers: Headers, end: bool) -> None:
        self.c.send_response(stream_id, headers, end_stream=end)

    def trailers(self, stream_id: int, headers: Headers) -> None:
        self.c.send_trailers(stream_id, headers)

    def data(self, stream_id: int, data: bytes, end: bool) -> None:
        self.c.send_data(stream_id, data, end_stream=end)

    def reset(self, stream_id: int, code: int) -> None:
        self.c.reset_stream(stream_id, code)

    def pending(self) -> bytes:
        return self.c.data_to_send()


class OwnCodec:
    def __init__(self, client: bool) -> None:
        from sidecar.transport.h2 import events as ev
        from sidecar.transport.h2.connection import GrpcConnection

        self._ev = ev
        self._clock = time.monotonic
        self.c = GrpcConnection(client=client)

    def receive(self, data: bytes) -> list[Event]:
        ev, c, out = self._ev, self.c, []
        events: list[Any] = c.receive_data(data, self._clock())
        for e in events:
            t = type(e)
            if t is ev.HeadersReceived:
                out.append((HEADERS, e.stream_id, e.headers, e.end_stream))
            elif t is ev.DataReceived:
                c.consumed(e.stream_id, len(e.data))
                out.append((DATA, e.stream_id, e.data, e.end_stream))
            elif t is ev.StreamReset:
                out.append((RESET, e.stream_id, e.error_code, True))
        return out

    def request(self, headers: Headers, end: bool) -> int:
        return self.c.send_request(headers, end)

    def respond(self, stream_id: int, headers: Headers, end: bool) -> None:
        self.c.send_headers(stream_id, headers, end)

    def trailers(self, stream_id: int, headers: Headers) -> None:
        self.c.send_trailers(stream_id, headers)

    def data(self, stream_id: int, data: bytes, end: bool) -> None:
        self.c.send_data(stream_id, data, end)

    def reset(self, stream_id: int, code: int) -> None:
        self.c.reset_stream(stream_id, code)

    def pending(self) -> bytes:
        return self.c.data_to_send()


def codec(name: str, client: bool) -> Codec:
    if name == "h2":
        return H2Codec(client)
    if name == "ngh2":
        return NgCodec(client)
    if name == "own":
        return OwnCodec(client)
    raise ValueError(f"unknown codec {name!r}")


def available(name: str) -> str:
    """'' when the candidate can run here, else why not."""
    try:
        codec(name, True)
    except ImportError as exc:
        return f"not installed: {exc}"
    return ""
