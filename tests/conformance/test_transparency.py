"""Every gRPC feature passes through the sidecar unchanged: each case runs directly and via
the inbound, outbound and two-sidecar mesh paths, and the outcomes must be identical. Every
sidecar on the path must have counted exactly the case's calls, with the status the caller saw
(tests/conformance/traversal.py): an identical outcome from a path that skipped a sidecar fails."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest
from apex.mesh.v1 import echo_pb2

from tests.conformance import cases
from tests.conformance.conftest import Target
from tests.conformance.traversal import Watch
from tests.support import raw_h2

Req = echo_pb2.EchoRequest
MB = 1024 * 1024

MESSAGE = "percent %41 %zz 100% · ünïcödé · 漢字 · emoji 😀𝄞 · tab\tnewline\n"

CASES: dict[str, cases.Case] = {
    "unary": lambda s: cases.unary(s, Req(payload=b"hello")),
    "unary-empty": lambda s: cases.unary(s, Req()),
    "unary-large-request": lambda s: cases.unary(s, Req(payload=b"r" * (5 * MB))),
    "unary-large-response": lambda s: cases.unary(s, Req(response_size=6 * MB)),
    "client-stream": lambda s: cases.client_stream(s, [Req(payload=bytes([65 + i]) * i) for i in range(10)]),
    "client-stream-empty-stream": lambda s: cases.client_stream(s, []),
    "client-stream-empty-messages": lambda s: cases.client_stream(s, [Req(), Req(), Req()]),
    "client-stream-large": lambda s: cases.client_stream(s, [Req(payload=b"c" * (2 * MB)) for _ in range(3)]),
    "server-stream": lambda s: cases.server_stream(s, Req(payload=b"s", response_count=7)),
    "server-stream-none": lambda s: cases.server_stream(s, Req(response_count=0)),
    "server-stream-large": lambda s: cases.server_stream(s, Req(response_size=3 * MB, response_count=3)),
    "bidi": lambda s: cases.bidi(s, [Req(payload=bytes([97 + i])) for i in range(8)]),
    "bidi-empty": lambda s: cases.bidi(s, []),
    "bidi-large": lambda s: cases.bidi(s, [Req(payload=b"b" * (3 * MB)) for _ in range(2)]),
    "metadata-unary": lambda s: cases.unary(
        s,
        Req(echo_metadata=True),
        metadata=[
            ("x-echo-plain", "v1"),
            ("x-echo-repeat", "first"),
            ("x-echo-data-bin", bytes(range(256))),
            ("x-echo-repeat", "second"),
            ("x-echo-empty-bin", b""),
            ("x-other", "not echoed"),
        ],
    ),
    "metadata-server-stream": lambda s: cases.server_stream(
        s, Req(echo_metadata=True, response_count=2), metadata=[("x-echo-k", "v"), ("x-echo-z-bin", b"\x00\xff")]
    ),
    "metadata-bidi-error": lambda s: cases.bidi(
        s,
        [Req(echo_metadata=True), Req(status=echo_pb2.EchoStatus(code=9, message=MESSAGE))],
        metadata=[("x-echo-k", "v"), ("x-echo-b-bin", b"\x01\x02")],
    ),
    "metadata-with-error": lambda s: cases.unary(
        s,
        Req(echo_metadata=True, status=echo_pb2.EchoStatus(code=7, message="denied")),
        metadata=[("x-echo-reason-bin", b"\xde\xad\xbe\xef"), ("x-echo-reason", "text")],
    ),
    # gzip-compressed requests (the caller's grpc library compresses every message of the call)
    "unary-gzip": lambda s: cases.unary(s, Req(payload=b"z" * 300_000), compression=grpc.Compression.Gzip),
    "client-stream-gzip": lambda s: cases.client_stream(
        s, [Req(payload=bytes([65 + i]) * 5000) for i in range(4)], compression=grpc.Compression.Gzip
    ),
    "bidi-gzip": lambda s: cases.bidi(
        s, [Req(payload=b"g" * 70_000, response_size=i * 1000) for i in range(3)], compression=grpc.Compression.Gzip
    ),
    "unimplemented-method": lambda s: _raw_unary(s, "/apex.mesh.v1.Echo/NoSuchMethod"),
    "unimplemented-service": lambda s: _raw_unary(s, "/no.such.Service/Method"),
}

for _code in range(1, 17):
    CASES[f"status-{grpc.StatusCode(next(c.value for c in grpc.StatusCode if c.value[0] == _code)).name}"] = (
        lambda s, code=_code: cases.unary(s, Req(status=echo_pb2.EchoStatus(code=code, message=MESSAGE)))
    )
    CASES[f"status-stream-{_code}"] = lambda s, code=_code: cases.server_stream(
        s, Req(response_count=2, status=echo_pb2.EchoStatus(code=code, message=f"after two: {MESSAGE}"))
    )


def _raw_unary(stub: Any, method: str) -> cases.Outcome:
    channel = stub._channel  # set below in the `stubs` fixture
    call = channel.unary_unary(method)
    try:
        call(b"\x0a\x01x", timeout=10)
    except grpc.RpcError as err:
        return cases.Outcome(err.code(), err.details(), [], [])
    raise AssertionError(f"{method} unexpectedly succeeded")


def _stub(target: Target) -> Any:
    stub = target.stub
    stub._channel = target.channel
    return stub


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_outcome(case: str, direct: Target, via: Target) -> None:
    expected = CASES[case](_stub(direct))
    watch = Watch(via.hops)
    got = CASES[case](_stub(via))
    assert got == expected, f"{case} via {via.name} differs from direct"
    watch.expect(1, {got.code.name: 1})


def test_cases_mean_something(direct: Target) -> None:
    """Direct outcomes are what the Echo service is asked for, so equality above is meaningful."""
    out = CASES["metadata-unary"](_stub(direct))
    assert out.code == grpc.StatusCode.OK
    assert out.initial_metadata == [
        ("x-echo-plain", "v1"),
        ("x-echo-repeat", "first"),
        ("x-echo-data-bin", bytes(range(256))),
        ("x-echo-repeat", "second"),
        ("x-echo-empty-bin", b""),
    ]
    assert [k for k, _ in out.trailing_metadata][:2] == ["trailer-x-echo-plain", "trailer-x-echo-repeat"]
    err = CASES["status-NOT_FOUND"](_stub(direct))
    assert (err.code, err.details) == (grpc.StatusCode.NOT_FOUND, MESSAGE)
    assert CASES["unimplemented-method"](_stub(direct)).code == grpc.StatusCode.UNIMPLEMENTED
    big = CASES["unary-large-response"](_stub(direct))
    assert len(big.responses[0][0]) == 6 * MB
    assert len(CASES["server-stream"](_stub(direct)).responses) == 7


# A hop may lose only the time that passed: the upstream's remaining time is at least what the
# caller set minus the time the caller waited for the answer, less this much for clock reads.
DEADLINE_SLACK = 0.02
# gRPC core rounds the grpc-timeout header up (never down) to a few significant digits on each hop.
ROUND_UP = 1.03


def test_deadline_propagates(direct: Target, via: Target) -> None:
    """The upstream sees the caller's deadline less the elapsed time, within tens of ms, on every path."""
    for timeout in (5.0, 1.0, 12.345):
        watch = Watch(via.hops)
        started = time.perf_counter()
        seen = via.stub.Unary(Req(), timeout=timeout).deadline_remaining
        elapsed = time.perf_counter() - started
        assert timeout - elapsed - DEADLINE_SLACK <= seen <= timeout * ROUND_UP, (timeout, elapsed, seen)
        watch.expect(1, {"OK": 1})
    no_deadline = via.stub.Unary(Req())
    assert no_deadline.deadline_remaining == -1.0


def test_deadline_exceeded_is_the_same(direct: Target, via: Target) -> None:
    expected = cases.unary(direct.stub, Req(delay_ms=2000), timeout=0.2)
    watch = Watch(via.hops)
    got = cases.unary(via.stub, Req(delay_ms=2000), timeout=0.2)
    assert expected.code == got.code == grpc.StatusCode.DEADLINE_EXCEEDED
    # each hop ends the call with the deadline, or as cancelled when its caller gave up first
    watch.expect(1, allowed={"DEADLINE_EXCEEDED", "CANCELLED"})


def test_expired_deadline_is_answered_by_the_first_sidecar(via: Target) -> None:
    """A call whose deadline has already passed (grpc-timeout: 1n, which no gRPC client sends, so
    a raw HTTP/2 client does) is answered DEADLINE_EXCEEDED by the first sidecar itself: its route
    counts it as such, no later hop sees it, and the upstream's own call count does not move.

    gRPC core may also cancel such a call before the sidecar's handler runs (its deadline timer
    races the event loop; more often on a busy machine); then the caller gets DEADLINE_EXCEEDED
    from core and no route counts it. Those attempts prove nothing about the sidecar, so the call
    is repeated until the sidecar's stack has handled one (every attempt still must not reach the
    upstream)."""
    calls_before = via.upstream.service.calls
    for attempt in range(20):
        watch = Watch(via.hops)
        message = Req(tag=f"expired-{via.name}-{attempt}").SerializeToString()
        out = raw_h2.unary(via.address, "/apex.mesh.v1.Echo/Unary", message, [("grpc-timeout", "1n")])
        assert out.status == grpc.StatusCode.DEADLINE_EXCEEDED.value[0], (attempt, out)
        time.sleep(0.05)  # a handler that runs after core answered would be counted by now
        first, *rest = watch.added()
        assert via.upstream.service.calls == calls_before, f"attempt {attempt} reached the upstream: {out}"
        assert all(later.calls == 0 for later in rest), (attempt, rest)
        if first.calls:
            assert (first.calls, dict(first.codes)) == (1, {"DEADLINE_EXCEEDED": 1}), (attempt, first)
            return
    raise AssertionError(f"{via.name}: gRPC core answered all 20 expired calls before the sidecar's stack ran")


@pytest.mark.parametrize("kind", ["unary", "client-stream", "server-stream", "bidi"])
def test_cancellation_reaches_upstream(kind: str, via: Target) -> None:
    """The caller cancels while the upstream handler is busy: the handler is cancelled too."""
    tag = f"cancel-{kind}-{via.name}-{time.monotonic_ns()}"
    busy = Req(tag=tag, delay_ms=20_000)
    gate = threading.Event()

    def requests() -> Any:
        yield busy
        gate.wait(30)  # keep the request stream open

    watch = Watch(via.hops)
    if kind == "unary":
        call = via.stub.Unary.future(busy, timeout=30)
    elif kind == "client-stream":
        call = via.stub.ClientStream.future(requests(), timeout=30)
    elif kind == "server-stream":
        call = via.stub.ServerStream(busy, timeout=30)
    else:
        call = via.stub.Bidi(requests(), timeout=30)
    _wait_for(lambda: tag in via.upstream.service.arrived)
    call.cancel()
    _wait_for(lambda: tag in via.upstream.service.cancelled)
    gate.set()
    watch.expect(1, {"CANCELLED": 1})


def _wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_many_concurrent_calls_on_one_connection(via: Target) -> None:
    """200 unary calls and 20 bidi streams interleaved on one channel all get their own answers."""

    def one_unary(i: int) -> bytes:
        return via.stub.Unary(Req(payload=str(i).encode(), delay_ms=i % 7), timeout=30).payload

    def one_stream(i: int) -> list[bytes]:
        reqs = [Req(payload=f"{i}-{j}".encode()) for j in range(10)]
        return [r.payload for r in via.stub.Bidi(iter(reqs), timeout=30)]

    watch = Watch(via.hops)
    with ThreadPoolExecutor(max_workers=48) as pool:
        unary = pool.map(one_unary, range(200))
        streams = pool.map(one_stream, range(20))
        assert list(unary) == [str(i).encode() for i in range(200)]
        assert list(streams) == [[f"{i}-{j}".encode() for j in range(10)] for i in range(20)]
    watch.expect(220, {"OK": 220})
