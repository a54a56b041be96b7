"""What a GrpcConnection reports after receive_data: one small slotted class per happening."""

from __future__ import annotations

from dataclasses import dataclass

Headers = list[tuple[bytes, bytes]]


@dataclass(slots=True)
class HeadersReceived:
    """Request headers (server side), response headers or trailers (client side; `trailers` tells)."""

    stream_id: int
    headers: Headers
    end_stream: bool
    trailers: bool = False


@dataclass(slots=True)
class DataReceived:
    """DATA payload; call GrpcConnection.consumed(stream_id, len) once the reader took it (backpressure)."""

    stream_id: int
    data: bytes
    end_stream: bool


@dataclass(slots=True)
class StreamReset:
    stream_id: int
    error_code: int
    remote: bool  # the peer sent RST_STREAM (else we reset it, e.g. REFUSED_STREAM)


@dataclass(slots=True)
class WindowOpened:
    """Queued DATA for this stream has all been framed: the writer may send more (0: the connection)."""

    stream_id: int


@dataclass(slots=True)
class PingAcked:
    data: bytes


@dataclass(slots=True)
class RemoteSettings:
    max_concurrent_streams: int
    initial_window: int


@dataclass(slots=True)
class GoAwayReceived:
    last_stream_id: int
    error_code: int
    debug: bytes


@dataclass(slots=True)
class ConnectionTerminated:
    """We ended the connection (GOAWAY queued): protocol error or abuse; `reason` says which."""

    error_code: int
    reason: str


Event = (
    HeadersReceived
    | DataReceived
    | StreamReset
    | WindowOpened
    | PingAcked
    | RemoteSettings
    | GoAwayReceived
    | ConnectionTerminated
)
