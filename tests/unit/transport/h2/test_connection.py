"""The sans-IO h2 core end to end in memory: unary, trailers(-only), :authority, flow control, limits, GOAWAY."""

from __future__ import annotations

from sidecar.transport.h2 import frames as f
from sidecar.transport.h2.events import (
    DataReceived,
    GoAwayReceived,
    HeadersReceived,
    StreamReset,
    WindowOpened,
)
from sidecar.transport.h2.grpc_wire import encode_message
from sidecar.transport.h2.limits import Limits

from .peer import REQUEST, pair, pump

OK = [(b":status", b"200"), (b"content-type", b"application/grpc")]
TRAILERS = [(b"grpc-status", b"0"), (b"x-t", b"1"), (b"x-t", b"2")]


def test_unary_call_with_headers_message_and_trailers() -> None:
    client, server = pair()
    metadata = [(b"x-rep", b"a"), (b"x-rep", b"b"), (b"x-bin", b"AP8")]
    sid = client.send_request(REQUEST + metadata)
    client.send_data(sid, encode_message(b"hello"), end_stream=True)
    _, at_server = pump(client, server)
    request = [e for e in at_server if isinstance(e, HeadersReceived)]
    assert request[0].headers == REQUEST + metadata  # order, repeats and :authority as sent on the wire
    assert (b":authority", b"echo.svc:50051") in request[0].headers
    body = b"".join(e.data for e in at_server if isinstance(e, DataReceived))
    assert body == encode_message(b"hello") and at_server[-1].end_stream  # type: ignore[union-attr]
    server.send_headers(sid, OK)
    server.send_data(sid, encode_message(b"world"))
    server.send_trailers(sid, TRAILERS)
    at_client, _ = pump(client, server)
    heads = [e for e in at_client if isinstance(e, HeadersReceived)]
    assert [h.trailers for h in heads] == [False, True]
    assert heads[1].headers == TRAILERS and heads[1].end_stream
    assert client.open_streams == 0 and server.open_streams == 0


def test_trailers_only_answer() -> None:
    client, server = pair()
    sid = client.send_request(REQUEST, end_stream=True)
    pump(client, server)
    server.send_headers(sid, [(b":status", b"200"), (b"grpc-status", b"5"), (b"grpc-message", b"not%20found")],
                        end_stream=True)
    at_client, _ = pump(client, server)
    (only,) = [e for e in at_client if isinstance(e, HeadersReceived)]
    assert only.end_stream and not only.trailers and (b"grpc-status", b"5") in only.headers
    assert server.open_streams == 0 and client.open_streams == 0


def test_slow_reader_stops_the_sender_instead_of_growing_buffers() -> None:
    limits = Limits(initial_window=65_535, connection_window=65_535)
    client, server = pair(client_limits=limits)
    sid = client.send_request(REQUEST, end_stream=True)
    pump(client, server)
    server.send_headers(sid, OK)
    big = encode_message(b"x" * 1_000_000)
    server.send_data(sid, big, end_stream=False)
    at_client, _ = pump(client, server)
    got = sum(len(e.data) for e in at_client if isinstance(e, DataReceived))
    assert got == 65_535  # exactly one window: the client never consumed
    assert server.buffered(sid) == len(big) - 65_535  # the rest waits with the writer, who can see it
    total = got
    for _ in range(100):
        client.consumed(sid, got)
        at_client, at_server = pump(client, server)
        got = sum(len(e.data) for e in at_client if isinstance(e, DataReceived))
        total += got
        if not server.buffered(sid):
            break
    assert total == len(big) and any(isinstance(e, WindowOpened) for e in at_server)


def test_advertised_max_concurrent_streams_refuses_the_extra_stream() -> None:
    client, server = pair(server_limits=Limits(max_concurrent_streams=2))
    assert client.can_open
    sids = [client.send_request(REQUEST) for _ in range(2)]
    assert not client.can_open  # the pool's cue to open another connection
    pump(client, server)
    assert server.open_streams == 2 and len(sids) == 2


def test_server_refuses_streams_beyond_its_limit_even_from_a_client_that_ignores_it() -> None:
    client, server = pair(server_limits=Limits(max_concurrent_streams=1))
    client._peer_max_streams = 10  # a misbehaving client
    client.send_request(REQUEST)
    second = client.send_request(REQUEST)
    at_client, at_server = pump(client, server)
    assert StreamReset(second, f.REFUSED_STREAM, False) in at_server
    assert StreamReset(second, f.REFUSED_STREAM, True) in at_client
    assert server.open_streams == 1


def test_graceful_goaway_lets_open_streams_finish_and_refuses_newer_ones() -> None:
    client, server = pair()
    first = client.send_request(REQUEST, end_stream=True)
    pump(client, server)
    server.goaway()
    late = client.send_request(REQUEST, end_stream=True)  # crosses the GOAWAY on the wire
    at_client, at_server = pump(client, server)
    assert GoAwayReceived(first, f.NO_ERROR, b"") in at_client
    assert not client.can_open
    assert StreamReset(late, f.REFUSED_STREAM, True) in at_client  # safe to retry elsewhere
    assert not any(isinstance(e, HeadersReceived) and e.stream_id == late for e in at_server)
    server.send_headers(first, [*OK, (b"grpc-status", b"0")], end_stream=True)
    at_client, _ = pump(client, server)
    assert any(isinstance(e, HeadersReceived) and e.stream_id == first for e in at_client)


def test_cancellation_both_ways() -> None:
    client, server = pair()
    a = client.send_request(REQUEST)
    b = client.send_request(REQUEST)
    pump(client, server)
    client.reset_stream(a)
    server.reset_stream(b)
    at_client, at_server = pump(client, server)
    assert StreamReset(a, f.CANCEL, True) in at_server
    assert StreamReset(b, f.CANCEL, True) in at_client
    assert client.open_streams == 0 and server.open_streams == 0


def test_large_headers_go_out_as_continuation_and_come_back_whole() -> None:
    client, server = pair(server_limits=Limits(max_header_list_size=200_000, max_header_block=200_000,
                                               max_continuations=20))
    big = [(b"x-big", bytes(range(256)) * 200)]  # ~51 kB, not compressible by huffman much
    client.send_request(REQUEST + big, end_stream=True)
    _, at_server = pump(client, server)
    (req,) = [e for e in at_server if isinstance(e, HeadersReceived)]
    assert req.headers == REQUEST + big
