"""The gRPC interop client's cases (grpc/grpc doc/interop-test-descriptions.md) through every path.

Each case runs as the description says against the interop TestService (tests/conformance/interop.py)
directly, then through each proxied path (grpc and h2 transports; inbound, outbound, two-sidecar
mesh); the outcomes (status, message, metadata, payload sizes, and for the compressed cases the
compressed flag of every message on both sides, as the caller and the service saw them) must be
the same, and every sidecar on the path must have counted the case's calls.

The compressed cases use a raw HTTP/2 client where the description asserts per-message flags (no
grpc client shows them). The h2 transport relays compressed messages as they are, flag by flag.
The grpc transport (grpc core on both sides of the sidecar) never sees a call's encoding or a
message's flag: compression ends at each grpc hop (the messages arrive intact, uncompressed), so
the four cases that check flags differ there, and what they give instead is asserted below
(GRPC_TRANSPORT_OUTCOMES) so that a change is noticed (README.md, "Transparency").
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from tests.conformance import interop as io
from tests.conformance.conftest import UNIMPLEMENTED_SERVICE, Target
from tests.conformance.traversal import Watch

TIMEOUT = 20.0
ZEROS = b"\0"
SPECIAL = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n"
INITIAL = ("x-grpc-test-echo-initial", "test_initial_metadata_value")
TRAILING = ("x-grpc-test-echo-trailing-bin", b"\xab\xab\xab")


@dataclass(frozen=True)
class Peer:
    """Where a case's calls go: an address, a channel to it, and the service behind it."""

    address: str
    channel: grpc.Channel
    server: io.InteropServer

    def call(self, method: str, kind: str, service: str = io.SERVICE) -> Any:
        request, response = io.METHODS.get(method, (io.Empty, io.Empty))
        make = {"uu": self.channel.unary_unary, "us": self.channel.unary_stream,
                "su": self.channel.stream_unary, "ss": self.channel.stream_stream}[kind]  # fmt: skip
        return make(io.path(method, service), request_serializer=request.SerializeToString,
                    response_deserializer=response.FromString)  # fmt: skip

    def upstream_flags(self, method: str) -> list[int]:
        """The compressed flags of the request messages of the service's latest `method` call."""
        return self.server.calls(method)[-1].flags


def _code(err: grpc.RpcError) -> tuple[str, str]:
    return err.code().name, err.details() or ""


def _payload(size: int) -> Any:
    return io.Payload(body=ZEROS * size)


def _simple(**kw: Any) -> Any:
    return io.SimpleRequest(response_size=314159, payload=_payload(271828), **kw)


def _params(*sizes: int, compressed: tuple[bool, ...] = ()) -> list[Any]:
    flags = compressed or (False,) * len(sizes)
    return [io.ResponseParameters(size=s, compressed=io.BoolValue(value=c)) if compressed
            else io.ResponseParameters(size=s) for s, c in zip(sizes, flags, strict=True)]  # fmt: skip


def _ok_or(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except grpc.RpcError as err:
        return _code(err)


# --- the cases: each returns what the caller (and the service) saw --------------------------------


def empty_unary(p: Peer) -> Any:
    reply = p.call("EmptyCall", "uu")(io.Empty(), timeout=TIMEOUT)
    return reply.ByteSize()


def large_unary(p: Peer) -> Any:
    reply = p.call("UnaryCall", "uu")(_simple(), timeout=TIMEOUT)
    return len(reply.payload.body), set(reply.payload.body)


def client_compressed_unary(p: Peer) -> Any:
    unary = p.call("UnaryCall", "uu")
    out = []
    for expect, compression in ((True, None), (True, grpc.Compression.Gzip), (False, None)):
        request = _simple(expect_compressed=io.BoolValue(value=expect))
        reply = _ok_or(lambda r=request, c=compression: unary(r, timeout=TIMEOUT, compression=c))
        got = len(reply.payload.body) if isinstance(reply, io.SimpleResponse) else reply
        out.append((got, p.upstream_flags("UnaryCall")))  # what the service saw: [1] = compressed
    return out


def server_compressed_unary(p: Peer) -> Any:
    out = []
    for compressed in (True, False):
        request = _simple(response_compressed=io.BoolValue(value=compressed))
        answer = io.raw_call(p.address, io.path("UnaryCall"), [(request.SerializeToString(), False)])
        if len(answer.messages) != 1:
            return answer  # compared whole: shows what came instead
        [body] = answer.bodies()
        out.append((answer.status, answer.flags, len(io.SimpleResponse.FromString(body).payload.body)))
    return out


def client_streaming(p: Peer) -> Any:
    requests = [io.StreamingInputCallRequest(payload=_payload(n)) for n in (27182, 8, 1828, 45904)]
    return p.call("StreamingInputCall", "su")(iter(requests), timeout=TIMEOUT).aggregated_payload_size


def client_compressed_streaming(p: Peer) -> Any:
    first = io.StreamingInputCallRequest(expect_compressed=io.BoolValue(value=True), payload=_payload(27182))
    probe = _ok_or(lambda: p.call("StreamingInputCall", "su")(iter([first]), timeout=TIMEOUT))
    second = io.StreamingInputCallRequest(expect_compressed=io.BoolValue(value=False), payload=_payload(45904))
    answer = io.raw_call(p.address, io.path("StreamingInputCall"),
                         [(first.SerializeToString(), True), (second.SerializeToString(), False)])  # fmt: skip
    sizes = [io.StreamingInputCallResponse.FromString(b).aggregated_payload_size for b in answer.bodies()]
    return probe, answer.status, answer.message, sizes, p.upstream_flags("StreamingInputCall")


def server_streaming(p: Peer) -> Any:
    request = io.StreamingOutputCallRequest(response_parameters=_params(31415, 9, 2653, 58979))
    return [len(r.payload.body) for r in p.call("StreamingOutputCall", "us")(request, timeout=TIMEOUT)]


def server_compressed_streaming(p: Peer) -> Any:
    request = io.StreamingOutputCallRequest(response_parameters=_params(31415, 92653, compressed=(True, False)))
    answer = io.raw_call(p.address, io.path("StreamingOutputCall"), [(request.SerializeToString(), False)])
    sizes = [len(io.StreamingOutputCallResponse.FromString(b).payload.body) for b in answer.bodies()]
    return answer.status, answer.flags, sizes


def answer_before_half_close(p: Peer) -> Any:
    """Not an interop case: the service answers a server-streaming call (one message larger than the
    caller's initial flow-control window) while the caller keeps its request stream open. Every
    message and the trailers must arrive before any RST_STREAM ends the stream."""
    request = io.StreamingOutputCallRequest(response_parameters=_params(31415, 92653))
    answer = io.raw_call(p.address, io.path("StreamingOutputCall"), [(request.SerializeToString(), False)],
                         half_close=False)  # fmt: skip
    sizes = [len(io.StreamingOutputCallResponse.FromString(b).payload.body) for b in answer.bodies()]
    return answer.status, sizes


class _Pipe:
    """A request iterator the test feeds one message at a time (half-closes on `close`)."""

    def __init__(self) -> None:
        self._q: queue.Queue[Any] = queue.Queue()

    def send(self, message: Any) -> None:
        self._q.put(message)

    def close(self) -> None:
        self._q.put(None)

    def __iter__(self) -> Iterator[Any]:
        while (message := self._q.get(timeout=TIMEOUT)) is not None:
            yield message


def ping_pong(p: Peer) -> Any:
    pipe = _Pipe()
    call = p.call("FullDuplexCall", "ss")(iter(pipe), timeout=TIMEOUT)
    sizes = []
    for response_size, request_size in ((31415, 27182), (9, 8), (2653, 1828), (58979, 45904)):
        pipe.send(io.StreamingOutputCallRequest(response_parameters=_params(response_size),
                                                payload=_payload(request_size)))  # fmt: skip
        sizes.append(len(next(call).payload.body))
    pipe.close()
    rest = list(call)
    return sizes, rest, call.code().name


def empty_stream(p: Peer) -> Any:
    call = p.call("FullDuplexCall", "ss")(iter([]), timeout=TIMEOUT)
    return list(call), call.code().name


def custom_metadata(p: Peer) -> Any:
    metadata = [INITIAL, TRAILING]
    _, unary = p.call("UnaryCall", "uu").with_call(_simple(), timeout=TIMEOUT, metadata=metadata)
    request = io.StreamingOutputCallRequest(response_parameters=_params(314159), payload=_payload(271828))
    stream = p.call("FullDuplexCall", "ss")(iter([request]), timeout=TIMEOUT, metadata=metadata)
    sizes = [len(r.payload.body) for r in stream]

    def mine(md: Any) -> list[tuple[str, Any]]:
        return [(k, v) for k, v in md or () if k.startswith("x-grpc-test-echo")]

    return (mine(unary.initial_metadata()), mine(unary.trailing_metadata()), sizes,
            mine(stream.initial_metadata()), mine(stream.trailing_metadata()))  # fmt: skip


def _status_cases(message: str) -> Callable[[Peer], Any]:
    def case(p: Peer) -> Any:
        status = io.EchoStatus(code=2, message=message)
        unary = _ok_or(lambda: p.call("UnaryCall", "uu")(io.SimpleRequest(response_status=status), timeout=TIMEOUT))
        stream = p.call("FullDuplexCall", "ss")(iter([io.StreamingOutputCallRequest(response_status=status)]),
                                                timeout=TIMEOUT)  # fmt: skip
        responses = _ok_or(lambda: list(stream))
        return unary, responses, stream.code().name, stream.details()

    return case


def _unimplemented(service: str, method: str) -> Callable[[Peer], Any]:
    def case(p: Peer) -> Any:
        return _ok_or(lambda: p.call(method, "uu", service)(io.Empty(), timeout=TIMEOUT))

    return case


def cancel_after_begin(p: Peer) -> Any:
    gate = threading.Event()

    def requests() -> Iterator[Any]:
        gate.wait(TIMEOUT)
        yield from ()

    future = p.call("StreamingInputCall", "su").future(requests(), timeout=TIMEOUT)
    future.cancel()
    gate.set()
    return future.cancelled(), future.code().name


def cancel_after_first_response(p: Peer) -> Any:
    pipe = _Pipe()
    call = p.call("FullDuplexCall", "ss")(iter(pipe), timeout=TIMEOUT)
    pipe.send(io.StreamingOutputCallRequest(response_parameters=_params(31415), payload=_payload(27182)))
    first = len(next(call).payload.body)
    call.cancel()
    pipe.close()
    return first, call.code().name


def timeout_on_sleeping_server(p: Peer) -> Any:
    pipe = _Pipe()
    call = p.call("FullDuplexCall", "ss")(iter(pipe), timeout=0.001)
    pipe.send(io.StreamingOutputCallRequest(payload=_payload(27182)))
    with contextlib.suppress(grpc.RpcError):
        list(call)
    pipe.close()
    return call.code().name  # the details come from the caller's own deadline timer


@dataclass(frozen=True)
class Case:
    run: Callable[[Peer], Any]
    calls: int  # calls each hop must count
    codes: dict[str, int] | None = None  # their final codes (None: any of `allowed`)
    allowed: frozenset[str] = frozenset()
    exact: bool = True  # False: the hop may not see a call the caller gave up on at once


OK = "OK"
CASES: dict[str, Case] = {
    "empty_unary": Case(empty_unary, 1, {OK: 1}),
    "large_unary": Case(large_unary, 1, {OK: 1}),
    "client_compressed_unary": Case(client_compressed_unary, 3, None, frozenset({OK, "INVALID_ARGUMENT"})),
    "server_compressed_unary": Case(server_compressed_unary, 2, {OK: 2}),
    "client_streaming": Case(client_streaming, 1, {OK: 1}),
    "client_compressed_streaming": Case(client_compressed_streaming, 2, None, frozenset({OK, "INVALID_ARGUMENT"})),
    "server_streaming": Case(server_streaming, 1, {OK: 1}),
    "server_compressed_streaming": Case(server_compressed_streaming, 1, {OK: 1}),
    "ping_pong": Case(ping_pong, 1, {OK: 1}),
    "empty_stream": Case(empty_stream, 1, {OK: 1}),
    "custom_metadata": Case(custom_metadata, 2, {OK: 2}),
    "status_code_and_message": Case(_status_cases("test status message"), 2, {"UNKNOWN": 2}),
    "special_status_message": Case(_status_cases(SPECIAL), 2, {"UNKNOWN": 2}),
    "unimplemented_method": Case(_unimplemented(io.SERVICE, "UnimplementedCall"), 1, {"UNIMPLEMENTED": 1}),
    "unimplemented_service": Case(_unimplemented(UNIMPLEMENTED_SERVICE, "UnimplementedCall"), 1, {"UNIMPLEMENTED": 1}),
    "cancel_after_begin": Case(cancel_after_begin, 1, None, frozenset({"CANCELLED"}), exact=False),
    "cancel_after_first_response": Case(cancel_after_first_response, 1, {"CANCELLED": 1}),
    "answer_before_half_close": Case(answer_before_half_close, 1, {OK: 1}),
    "timeout_on_sleeping_server": Case(
        timeout_on_sleeping_server, 1, None, frozenset({"DEADLINE_EXCEEDED", "CANCELLED"}), exact=False
    ),
}

# What the grpc transport gives instead (compression ends at each grpc hop): the service sees every
# request message uncompressed, the caller every answer.
UNCOMPRESSED_REFUSED = ("INVALID_ARGUMENT", "Expected compressed request, but got uncompressed one")
GRPC_TRANSPORT_OUTCOMES: dict[str, Callable[[Any], Any]] = {
    # the compressed call reaches the service uncompressed, which refuses it as the description says
    "client_compressed_unary": lambda want: [want[0], (UNCOMPRESSED_REFUSED, [0]), want[2]],
    "server_compressed_unary": lambda want: [(status, [0], size) for status, _, size in want],
    "client_compressed_streaming": lambda want: (want[0], 3, UNCOMPRESSED_REFUSED[1], [], [0]),
    "server_compressed_streaming": lambda want: (want[0], [0, 0], want[2]),
}


def _peer(target_address: str, channel: grpc.Channel, server: io.InteropServer) -> Peer:
    return Peer(target_address, channel, server)


@pytest.fixture(scope="module")
def direct_peer(interop_upstream: io.InteropServer) -> Iterator[Peer]:
    with grpc.insecure_channel(interop_upstream.address) as channel:
        yield Peer(interop_upstream.address, channel, interop_upstream)


@pytest.fixture(scope="module")
def expected(direct_peer: Peer) -> dict[str, Any]:
    """Each case's outcome straight at the service, run once."""
    return {name: case.run(direct_peer) for name, case in CASES.items()}


def test_direct_outcomes_are_what_the_descriptions_assert(expected: dict[str, Any]) -> None:
    """The service behaves as the interop descriptions require, so equality below means something."""
    assert expected["empty_unary"] == 0
    assert expected["large_unary"] == (314159, {0})
    refused = ("INVALID_ARGUMENT", "Expected compressed request, but got uncompressed one")
    assert expected["client_compressed_unary"] == [(refused, [0]), (314159, [1]), (314159, [0])]
    assert expected["server_compressed_unary"] == [(0, [1], 314159), (0, [0], 314159)]
    assert expected["client_streaming"] == 74922
    probe, status, _, sizes, flags = expected["client_compressed_streaming"]
    assert (probe[0], status, sizes, flags) == ("INVALID_ARGUMENT", 0, [73086], [1, 0])
    assert expected["server_streaming"] == [31415, 9, 2653, 58979]
    assert expected["server_compressed_streaming"] == (0, [1, 0], [31415, 92653])
    assert expected["ping_pong"] == ([31415, 9, 2653, 58979], [], OK)
    assert expected["empty_stream"] == ([], OK)
    initial, trailing = [INITIAL], [TRAILING]
    assert expected["custom_metadata"] == (initial, trailing, [314159], initial, trailing)
    for name, message in (("status_code_and_message", "test status message"), ("special_status_message", SPECIAL)):
        assert expected[name] == (("UNKNOWN", message), ("UNKNOWN", message), "UNKNOWN", message)
    assert expected["unimplemented_method"][0] == expected["unimplemented_service"][0] == "UNIMPLEMENTED"
    assert expected["cancel_after_begin"] == (True, "CANCELLED")
    assert expected["cancel_after_first_response"] == (31415, "CANCELLED")
    assert expected["timeout_on_sleeping_server"] == "DEADLINE_EXCEEDED"
    assert expected["answer_before_half_close"] == (0, [31415, 92653])


@pytest.mark.parametrize("name", sorted(CASES))
def test_interop_case(name: str, via: Target, expected: dict[str, Any], interop_upstream: io.InteropServer) -> None:
    case = CASES[name]
    watch = Watch(via.hops)
    got = case.run(_peer(via.address, via.channel, interop_upstream))
    want = expected[name]
    if name in GRPC_TRANSPORT_OUTCOMES and not via.name.endswith("-h2"):
        want = GRPC_TRANSPORT_OUTCOMES[name](want)
    assert got == want, f"{name} via {via.name}"
    if name == "cancel_after_first_response" and not via.name.endswith("-h2"):
        # grpc aio reads a cancelled request stream as its end (EOF) and tells the servicer of the
        # cancellation 0.2-30 ms later, so a grpc sidecar may relay a half-close before the cancel,
        # and the service may end the call OK first (README.md, "Transparency"). h2 stays exact.
        watch.expect(1, None, {"CANCELLED", OK})
    elif case.exact:
        watch.expect(case.calls, case.codes, set(case.allowed) or None)
    else:
        for added in watch.added():
            assert added.calls <= case.calls and set(added.codes) <= case.allowed, (name, via.name, added)
