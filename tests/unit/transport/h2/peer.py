"""Test helpers: a client and a server GrpcConnection wired in memory, and raw frame builders."""

from __future__ import annotations

import hpack

from sidecar.transport.h2 import frames as f
from sidecar.transport.h2.connection import GrpcConnection
from sidecar.transport.h2.events import Event
from sidecar.transport.h2.limits import Limits

REQUEST = [
    (b":method", b"POST"),
    (b":scheme", b"http"),
    (b":path", b"/apex.mesh.v1.Echo/Unary"),
    (b":authority", b"echo.svc:50051"),
    (b"content-type", b"application/grpc"),
    (b"te", b"trailers"),
]


def pair(
    server_limits: Limits | None = None, client_limits: Limits | None = None
) -> tuple[GrpcConnection, GrpcConnection]:
    client = GrpcConnection(client=True, limits=client_limits)
    server = GrpcConnection(client=False, limits=server_limits)
    pump(client, server)
    return client, server


def pump(a: GrpcConnection, b: GrpcConnection) -> tuple[list[Event], list[Event]]:
    """Move bytes both ways until both are quiet; the events each side saw."""
    seen_a: list[Event] = []
    seen_b: list[Event] = []
    for _ in range(100):
        out_a, out_b = a.data_to_send(), b.data_to_send()
        if not out_a and not out_b:
            break
        if out_a:
            seen_b += b.receive_data(out_a)
        if out_b:
            seen_a += a.receive_data(out_b)
    return seen_a, seen_b


def raw_server(limits: Limits | None = None) -> tuple[GrpcConnection, hpack.Encoder]:
    """A server that has read a client preface + SETTINGS; send it raw frames."""
    server = GrpcConnection(client=False, limits=limits)
    server.receive_data(f.PREFACE + f.frame(f.SETTINGS, 0, 0))
    server.data_to_send()
    return server, hpack.Encoder()


def headers_frame(
    enc: hpack.Encoder, sid: int, headers: list[tuple[bytes, bytes]] = REQUEST, end: bool = False
) -> bytes:
    flags = f.END_HEADERS | (f.END_STREAM if end else 0)
    return f.frame(f.HEADERS, flags, sid, enc.encode(headers))


def rst(sid: int, code: int = f.CANCEL) -> bytes:
    return f.frame(f.RST_STREAM, 0, sid, code.to_bytes(4, "big"))
