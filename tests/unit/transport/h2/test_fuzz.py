"""Property tests of the h2 core: arbitrary bytes and arbitrary frame sequences never crash it or grow it."""

from __future__ import annotations

import hpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sidecar.transport.h2 import frames as f
from sidecar.transport.h2.connection import StreamError
from sidecar.transport.h2.events import DataReceived, HeadersReceived
from sidecar.transport.h2.limits import Limits

from .peer import REQUEST, pair, pump, raw_server

LIMITS = Limits(max_concurrent_streams=4, initial_window=65_535, connection_window=131_070, max_continuations=4,
                max_header_block=8192, max_header_list_size=8192, max_outbound=65_536)
BOUND = 131_070 + 8192 + 65_536 + 16_384 + 4096  # window + header block + outbound + one frame + slack


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=200), max_size=10))
def test_arbitrary_bytes_after_the_preface_never_raise(chunks: list[bytes]) -> None:
    server, _ = raw_server(LIMITS)
    for chunk in chunks:
        server.receive_data(chunk, now=0.0)
        assert server.memory() <= BOUND
        assert server.open_streams <= LIMITS.max_concurrent_streams


_enc = hpack.Encoder()
frame_kinds = st.sampled_from(range(11))  # every type plus an unknown one
frame_strategy = st.tuples(
    frame_kinds,
    st.integers(0, 255),
    st.sampled_from([0, 1, 2, 3, 5, 7, 2**31 - 1]),
    st.one_of(st.binary(max_size=40), st.just(b"\x00" * 8), st.just(b"\x00\x00\x00\x01")),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(frame_strategy, max_size=30), st.lists(st.integers(0, 3), max_size=30))
def test_arbitrary_frame_sequences_keep_the_state_machine_sane(
    spec: list[tuple[int, int, int, bytes]], opens: list[int]
) -> None:
    server, enc = raw_server(LIMITS)
    next_sid = 1
    for i, (kind, flags, sid, payload) in enumerate(spec):
        if opens and opens[i % len(opens)] == 0:  # interleave well-formed requests so streams exist
            server.receive_data(f.frame(f.HEADERS, f.END_HEADERS, next_sid, enc.encode(REQUEST)), now=float(i))
            next_sid += 2
        server.receive_data(f.frame(kind, flags, sid, payload), now=float(i))
        assert server.memory() <= BOUND
        assert server.open_streams <= LIMITS.max_concurrent_streams
        if server.terminated is not None:
            assert server.receive_data(b"anything") == []  # a terminated connection stays silent
            break


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["open", "data", "end", "reset", "answer", "consume"]),
                          st.integers(0, 5), st.integers(0, 70_000)), max_size=40))
def test_two_cores_agree_under_any_sequence_of_calls(ops: list[tuple[str, int, int]]) -> None:
    """Client and server driven by random calls: no protocol error between two correct cores, data in order."""
    client, server = pair(LIMITS, LIMITS)
    sent: dict[int, bytes] = {}
    got: dict[int, bytes] = {}
    sids: list[int] = []
    for op, pick, size in ops:
        sid = sids[pick % len(sids)] if sids else 0
        try:
            if op == "open" and client.can_open:
                sids.append(client.send_request(REQUEST))
                sent[sids[-1]] = b""
            elif op == "data" and sid:
                chunk = bytes([sid & 0xFF]) * size
                client.send_data(sid, chunk)
                sent[sid] += chunk
            elif op == "end" and sid:
                client.send_data(sid, b"", end_stream=True)
            elif op == "reset" and sid:
                client.reset_stream(sid)
                sids.remove(sid)
            elif op == "answer" and sid:
                server.send_headers(sid, [(b":status", b"200")], end_stream=True)
        except StreamError:
            pass
        _, at_server = pump(client, server)
        for e in at_server:
            if isinstance(e, DataReceived):
                got[e.stream_id] = got.get(e.stream_id, b"") + e.data
                server.consumed(e.stream_id, len(e.data))
            assert not isinstance(e, HeadersReceived) or e.headers == REQUEST
        pump(client, server)
        assert client.terminated is None and server.terminated is None
        assert server.memory() <= BOUND
    for sid, data in got.items():
        assert sent[sid].startswith(data)  # in order, nothing invented
