"""Abuse of the h2 core, each answered by GOAWAY(ENHANCE_YOUR_CALM or the RFC's code) with bounded memory."""

from __future__ import annotations

import hpack

from sidecar.transport.h2 import frames as f
from sidecar.transport.h2.events import ConnectionTerminated, HeadersReceived
from sidecar.transport.h2.grpc_wire import encode_message
from sidecar.transport.h2.limits import Limits

from .peer import REQUEST, headers_frame, pair, pump, raw_server, rst


def _terminated(events: list[object]) -> ConnectionTerminated:
    found = [e for e in events if isinstance(e, ConnectionTerminated)]
    assert found, f"connection not terminated; events: {events[-3:]}"
    return found[0]


def _goaway_code(out: bytes) -> int:
    frames = f.FrameReader(1 << 24).feed(out)
    (payload,) = [p for kind, _, _, p in frames if kind == f.GOAWAY]
    return int.from_bytes(payload[4:8], "big")


def test_rapid_reset_cve_2023_44487_ends_the_connection() -> None:
    server, enc = raw_server(Limits(reset_burst=50, reset_rate=10.0))
    events = []
    for i in range(200):  # open and cancel at once, all within the same instant
        sid = 1 + 2 * i
        events += server.receive_data(headers_frame(enc, sid) + rst(sid), now=0.0)
        if server.terminated is not None:
            break
    assert "rapid reset" in _terminated(events).reason
    assert sid < 120  # stopped near the burst, not after the flood
    assert _goaway_code(server.data_to_send()) == f.ENHANCE_YOUR_CALM


def test_resets_at_a_sustainable_rate_are_fine() -> None:
    server, enc = raw_server(Limits(reset_burst=50, reset_rate=10.0))
    for i in range(300):
        sid = 1 + 2 * i
        server.receive_data(headers_frame(enc, sid) + rst(sid), now=i * 0.2)  # 5/s < 10/s
    assert server.terminated is None and server.open_streams == 0


def test_refused_streams_count_toward_rapid_reset() -> None:
    server, enc = raw_server(Limits(max_concurrent_streams=1, reset_burst=20, reset_rate=1.0))
    events = server.receive_data(headers_frame(enc, 1), now=0.0)
    for i in range(1, 100):
        events += server.receive_data(headers_frame(enc, 1 + 2 * i), now=0.0)
    assert "refused streams" in _terminated(events).reason
    assert server.open_streams == 0


def test_continuation_flood_cve_2024_27316_class_is_cut_off() -> None:
    server, enc = raw_server(Limits(max_continuations=8))
    events = server.receive_data(f.frame(f.HEADERS, 0, 1, enc.encode(REQUEST)))
    for _ in range(1000):  # endless empty CONTINUATION frames, never END_HEADERS
        events += server.receive_data(f.frame(f.CONTINUATION, 0, 1, b""))
        if server.terminated is not None:
            break
    assert "CONTINUATION" in _terminated(events).reason
    assert server.memory() < 1024


def test_header_block_larger_than_the_limit_is_cut_off_before_it_is_buffered() -> None:
    server, _enc = raw_server(Limits(max_header_block=4096, max_continuations=1000))
    events = server.receive_data(f.frame(f.HEADERS, 0, 1, b"\x00" * 4000))
    for _ in range(100):
        events += server.receive_data(f.frame(f.CONTINUATION, 0, 1, b"\x00" * 4000))
        if server.terminated is not None:
            break
    assert "header block larger" in _terminated(events).reason
    assert server.memory() < 16_384


def test_hpack_bomb_small_block_that_inflates_past_the_header_list_limit() -> None:
    server, _ = raw_server(Limits(max_header_list_size=16_384))
    enc = hpack.Encoder()
    big = (b"x-bomb", b"a" * 4000)
    first = enc.encode([*REQUEST, big])  # puts ~4 kB into the dynamic table once
    server.receive_data(f.frame(f.HEADERS, f.END_HEADERS, 1, first))
    bomb = enc.encode([big] * 100)  # one byte per field on the wire, 400 kB decoded
    assert len(bomb) <= 100
    events = server.receive_data(f.frame(f.HEADERS, f.END_HEADERS, 3, bomb))
    assert "header list over 65536" in _terminated(events).reason  # 4x the per-call limit
    assert _goaway_code(server.data_to_send()) == f.ENHANCE_YOUR_CALM


def test_ping_flood_ends_the_connection() -> None:
    server, _ = raw_server(Limits(ping_burst=50, ping_rate=10.0))
    events = []
    for i in range(500):
        events += server.receive_data(f.frame(f.PING, 0, 0, i.to_bytes(8, "big")), now=0.0)
        if server.terminated is not None:
            break
    assert "PING flood" in _terminated(events).reason


def test_a_ping_with_every_message_like_grpc_bdp_probes_is_not_a_flood() -> None:
    server, enc = raw_server(Limits(ping_burst=50, ping_rate=10.0))
    server.receive_data(headers_frame(enc, 1))
    for i in range(2000):
        data = f.frame(f.DATA, 0, 1, encode_message(b"m"))
        server.receive_data(data + f.frame(f.PING, 0, 0, i.to_bytes(8, "big")), now=0.0)
        server.consumed(1, 6)
        server.data_to_send()
    assert server.terminated is None


def test_settings_flood_ends_the_connection() -> None:
    server, _ = raw_server(Limits(settings_burst=50, settings_rate=10.0))
    events = []
    for _ in range(500):
        events += server.receive_data(f.frame(f.SETTINGS, 0, 0, f.settings_payload([(f.INITIAL_WINDOW_SIZE, 1)])))
        if server.terminated is not None:
            break
    assert "SETTINGS flood" in _terminated(events).reason


def test_a_peer_that_never_reads_cannot_make_us_queue_acks_without_bound() -> None:
    server, _ = raw_server(Limits(ping_burst=10**9, ping_rate=1e9, max_outbound=64_000))
    events = []
    for i in range(10_000):  # we never call data_to_send(): the socket is not draining
        events += server.receive_data(f.frame(f.PING, 0, 0, i.to_bytes(8, "big")), now=float(i))
        if server.terminated is not None:
            break
    assert "does not read" in _terminated(events).reason
    assert server.memory() < 64_000 + 1024


def test_data_beyond_the_advertised_window_is_a_flow_control_error_not_a_buffer() -> None:
    server, enc = raw_server(Limits(initial_window=65_535, connection_window=65_535))
    events = server.receive_data(headers_frame(enc, 1))
    chunk = f.frame(f.DATA, 0, 1, b"x" * 16_384)
    for _ in range(10):  # 160 kB into a 64 kB window, never consumed
        events += server.receive_data(chunk)
        if server.terminated is not None:
            break
    assert _terminated(events).error_code == f.FLOW_CONTROL_ERROR


def test_streams_beyond_max_concurrent_never_reach_the_application() -> None:
    server, enc = raw_server(Limits(max_concurrent_streams=3))
    events = []
    for i in range(10):
        events += server.receive_data(headers_frame(enc, 1 + 2 * i), now=float(i))
    assert len([e for e in events if isinstance(e, HeadersReceived)]) == 3
    assert server.open_streams == 3


def test_frames_interleaved_into_a_header_block_are_a_protocol_error() -> None:
    server, enc = raw_server()
    events = server.receive_data(f.frame(f.HEADERS, 0, 1, enc.encode(REQUEST)) + f.frame(f.PING, 0, 0, b"\0" * 8))
    assert _terminated(events).error_code == f.PROTOCOL_ERROR


def test_a_server_resetting_every_answered_stream_is_not_rapid_reset_on_the_client() -> None:
    """gRPC servers send RST_STREAM(NO_ERROR) after a full answer if the client had not half-closed;
    a first version counted those on the connector side and cut off a real Echo server."""
    client, server = pair(server_limits=Limits(reset_burst=5, reset_rate=1.0))
    client._resets = type(client._resets)(5, 1.0)
    for _ in range(100):
        sid = client.send_request(REQUEST)
        pump(client, server)
        server.send_headers(sid, [(b":status", b"200"), (b"grpc-status", b"0")], end_stream=True)
        server.reset_stream(sid, f.NO_ERROR)
        at_client, _ = pump(client, server)
        assert not any(isinstance(e, ConnectionTerminated) for e in at_client)
    assert client.terminated is None


def test_our_own_queued_data_does_not_count_as_a_peer_that_does_not_read() -> None:
    """A large answer queued before the next write must not make the peer's SETTINGS ACK look like
    abuse (a first version counted all unsent bytes and cut off callers of 3 MB messages)."""
    client, server = pair(server_limits=Limits(max_outbound=64_000))
    sid = client.send_request(REQUEST, end_stream=True)
    pump(client, server)
    server.send_headers(sid, [(b":status", b"200")])
    server.send_data(sid, b"x" * 100_000)  # queued, not yet written (more than max_outbound)
    events = server.receive_data(f.frame(f.SETTINGS, 0, 0) + f.frame(f.PING, 0, 0, b"\0" * 8), now=0.0)
    assert not any(isinstance(e, ConnectionTerminated) for e in events)


def test_a_header_list_over_the_limit_refuses_that_call_only() -> None:
    server, enc = raw_server(Limits(max_header_list_size=4096))
    big = [*REQUEST, (b"x-big", b"v" * 5000)]
    events = server.receive_data(headers_frame(enc, 1, big), now=0.0)
    assert events == [] and server.terminated is None and server.open_streams == 0
    frames = f.FrameReader(1 << 24).feed(server.data_to_send())
    (block,) = [p for kind, _, sid, p in frames if kind == f.HEADERS and sid == 1]
    answer = dict(hpack.Decoder().decode(block, raw=True))
    assert answer[b"grpc-status"] == b"8" and b"exceeds the limit of 4096" in answer[b"grpc-message"]
    events = server.receive_data(headers_frame(enc, 3), now=0.0)  # the connection goes on
    assert isinstance(events[0], HeadersReceived) and events[0].stream_id == 3
