"""The h2 listener + connector relaying real gRPC calls (grpc client -> h2 relay -> grpc Echo server)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import grpc
import pytest
import uvloop
from apex.mesh.v1 import echo_pb2, echo_pb2_grpc

from sidecar.core.service import Request, Upstream
from sidecar.core.transport import ListenerSpec, Switch, WireLimits
from sidecar.examples.echo import BackgroundEcho
from sidecar.transport.h2 import transport

pytestmark = pytest.mark.integration


class Relay:
    """An h2 listener whose service sends every call through the h2 connector to `upstream`."""

    def __init__(self, upstream: str, limits: WireLimits | None = None) -> None:
        self.loop = uvloop.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.transport = transport()
        self.upstream = upstream
        connector = self.transport.connector()

        async def service(request: Request) -> Upstream:
            return await connector(self.upstream, "", request)

        spec = ListenerSpec("test", "127.0.0.1:0", limits=limits or WireLimits())
        self.listener = self.transport.listener(spec, Switch(service))
        self.address = self._run(self.listener.start())

    def _run(self, coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def close(self) -> None:
        self._run(self.listener.stop(0.5))
        self._run(self.transport.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def echo() -> Iterator[BackgroundEcho]:
    server = BackgroundEcho("h2").start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def relay(echo: BackgroundEcho) -> Iterator[Relay]:
    r = Relay(echo.address)
    yield r
    r.close()


@pytest.fixture(scope="module")
def stub(relay: Relay) -> Iterator[echo_pb2_grpc.EchoStub]:
    with grpc.insecure_channel(relay.address) as channel:
        yield echo_pb2_grpc.EchoStub(channel)


def test_unary(stub: echo_pb2_grpc.EchoStub) -> None:
    answer = stub.Unary(echo_pb2.EchoRequest(payload=b"hi"), timeout=5)
    assert answer.payload == b"hi" and answer.served_by == "h2"


def test_large_messages_both_ways_under_flow_control(stub: echo_pb2_grpc.EchoStub) -> None:
    big = bytes(range(256)) * 12_000  # 3 MB: many windows' worth
    assert stub.Unary(echo_pb2.EchoRequest(payload=big), timeout=20).payload == big


def test_server_stream_client_stream_and_bidi(stub: echo_pb2_grpc.EchoStub) -> None:
    answers = list(stub.ServerStream(echo_pb2.EchoRequest(response_size=10, response_count=50), timeout=5))
    assert [a.index for a in answers] == list(range(50))
    requests = [echo_pb2.EchoRequest(payload=bytes([i])) for i in range(20)]
    assert stub.ClientStream(iter(requests), timeout=5).payload
    bidi = list(stub.Bidi(iter(requests), timeout=5))
    assert [a.payload for a in bidi] == [r.payload for r in requests]


def test_metadata_repeated_and_binary_in_order_both_ways(stub: echo_pb2_grpc.EchoStub) -> None:
    sent = (("x-echo-a", "1"), ("x-echo-b-bin", b"\x00\xff"), ("x-echo-a", "2"))
    _, call = stub.Unary.with_call(echo_pb2.EchoRequest(payload=b"m", echo_metadata=True), metadata=sent, timeout=5)
    initial = [(k, v) for k, v in call.initial_metadata() if k.startswith("x-echo")]
    trailing = [(k, v) for k, v in call.trailing_metadata() if k.startswith("trailer-x-echo")]
    assert initial == list(sent)
    assert trailing == [("trailer-" + k, v) for k, v in sent]


@pytest.mark.parametrize("code", [c for c in grpc.StatusCode if c is not grpc.StatusCode.OK])
def test_every_status_code_and_message(stub: echo_pb2_grpc.EchoStub, code: grpc.StatusCode) -> None:
    message = f"failed: {code.name} — 100% üñí"
    request = echo_pb2.EchoRequest(status=echo_pb2.EchoStatus(code=code.value[0], message=message))
    with pytest.raises(grpc.RpcError) as info:
        stub.Unary(request, timeout=5)
    assert info.value.code() is code
    assert info.value.details() == message


def test_deadline_propagates_as_grpc_timeout(stub: echo_pb2_grpc.EchoStub) -> None:
    answer = stub.Unary(echo_pb2.EchoRequest(payload=b"d"), timeout=3)
    assert 0 < answer.deadline_remaining <= 3.1  # grpc core rounds its deadline to its coarse clock
    with pytest.raises(grpc.RpcError) as info:
        stub.Unary(echo_pb2.EchoRequest(delay_ms=2000), timeout=0.3)
    assert info.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED


def test_connect_failure_is_unavailable() -> None:
    relay = Relay("127.0.0.1:1")  # nothing listens on port 1
    try:
        with grpc.insecure_channel(relay.address) as channel, pytest.raises(grpc.RpcError) as info:
            echo_pb2_grpc.EchoStub(channel).Unary(echo_pb2.EchoRequest(), timeout=5)
        assert info.value.code() is grpc.StatusCode.UNAVAILABLE
    finally:
        relay.close()


def test_many_concurrent_calls(relay: Relay) -> None:
    async def burst() -> list[bytes]:
        async with grpc.aio.insecure_channel(relay.address) as channel:
            stub = echo_pb2_grpc.EchoStub(channel)
            calls = [stub.Unary(echo_pb2.EchoRequest(payload=str(i).encode(), delay_ms=50), timeout=20)
                     for i in range(300)]
            return [a.payload for a in await asyncio.gather(*calls)]

    assert asyncio.run(burst()) == [str(i).encode() for i in range(300)]


def test_message_over_the_listener_limit_is_resource_exhausted(echo: BackgroundEcho) -> None:
    relay = Relay(echo.address, WireLimits(max_message_bytes=1000))
    try:
        with grpc.insecure_channel(relay.address) as channel, pytest.raises(grpc.RpcError) as info:
            echo_pb2_grpc.EchoStub(channel).Unary(echo_pb2.EchoRequest(payload=b"x" * 5000), timeout=5)
        assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        relay.close()


def test_metadata_over_the_listener_limit_is_resource_exhausted_for_that_call(echo: BackgroundEcho) -> None:
    relay = Relay(echo.address, WireLimits(max_metadata_bytes=4096))
    try:
        with grpc.insecure_channel(relay.address) as channel:
            stub = echo_pb2_grpc.EchoStub(channel)
            with pytest.raises(grpc.RpcError) as info:
                stub.Unary(echo_pb2.EchoRequest(), metadata=(("x-big", "v" * 5000),), timeout=5)
            assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
            assert stub.Unary(echo_pb2.EchoRequest(payload=b"ok"), timeout=5).payload == b"ok"  # same connection
    finally:
        relay.close()
