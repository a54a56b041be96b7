"""The grpc private internals the grpc.aio transport uses still exist and behave as relied on.

If this fails after a grpcio upgrade, read the message: it names what moved. Fix
sidecar/transport/grpc_aio/internals.py (the only module that touches them) before upgrading.
"""

from __future__ import annotations

import asyncio

import grpc
import pytest
from apex.mesh.v1 import echo_pb2, echo_pb2_grpc

from sidecar.examples.echo import EchoService
from sidecar.transport.grpc_aio import internals
from sidecar.transport.grpc_aio.internals import GrpcInternalsChanged, metadata_sent, raw_call
from sidecar.transport.grpc_aio.wire import OrderedMetadata

INTERLEAVED = (("x-echo-a", "1"), ("x-echo-b", "2"), ("x-echo-a", "3"))


def test_the_cygrpc_pieces_are_present() -> None:
    internals.check()  # raises GrpcInternalsChanged naming what is missing
    for error in internals.WRITE_LOST_RACE:
        assert issubclass(error, BaseException)


def test_a_missing_internal_fails_loudly_naming_it() -> None:
    with pytest.raises(GrpcInternalsChanged) as info:
        raw_call(object())
    message = str(info.value)
    assert f"grpcio {grpc.__version__}" in message
    assert "`_cython_call`" in message and "internals.py" in message
    with pytest.raises(GrpcInternalsChanged, match="`_metadata_sent`"):
        metadata_sent(object())


def test_a_real_stream_call_through_the_raw_call_keeps_wire_order_and_status() -> None:
    """What client.py relies on: `_metadata_sent` is an Event set once headers are out; the
    cython call writes, half-closes, and gives headers in wire order (grpc.aio's Metadata
    would group interleaved keys) and the status with its code, details and trailers."""

    async def scenario() -> None:
        server = grpc.aio.server()
        echo_pb2_grpc.add_EchoServicer_to_server(EchoService("internals"), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                bidi = channel.stream_stream("/apex.mesh.v1.Echo/Bidi")
                call = bidi(metadata=OrderedMetadata(INTERLEAVED), timeout=10)
                sent = metadata_sent(call)
                assert isinstance(sent, asyncio.Event)
                await asyncio.wait_for(sent.wait(), 10)
                raw = raw_call(call)
                request = echo_pb2.EchoRequest(payload=b"p", echo_metadata=True)
                await raw.send_serialized_message(request.SerializeToString())
                await raw.send_receive_close()
                headers = [pair for pair in await raw.initial_metadata() if pair[0].startswith("x-echo-")]
                assert [tuple(pair) for pair in headers] == list(INTERLEAVED)
                reply = echo_pb2.EchoResponse.FromString(await call.read())
                assert reply.payload == b"p"
                status = await raw.status()
                assert (status.code(), status.details() or "") == (0, "")
                trailers = [pair for pair in status.trailing_metadata() if pair[0].startswith("trailer-")]
                assert [k for k, _ in trailers] == [f"trailer-{k}" for k, _ in INTERLEAVED]
        finally:
            await server.stop(0)

    asyncio.run(scenario())
