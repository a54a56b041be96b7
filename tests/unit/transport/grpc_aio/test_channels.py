"""The connector's channel pool: another connection per endpoint once every open one is busy."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from apex.mesh.v1 import echo_pb2, echo_pb2_grpc

from sidecar.core.call import CallDescriptor
from sidecar.core.service import Request
from sidecar.examples.echo import EchoService
from sidecar.transport.grpc_aio.channels import ChannelPool
from sidecar.transport.grpc_aio.client import GrpcConnector
from sidecar.transport.grpc_aio.method_kinds import Kind, MethodKinds


def test_a_key_opens_another_connection_once_every_open_one_is_busy() -> None:
    async def scenario() -> None:
        pool = ChannelPool(per_connection=2, max_connections=3)
        first = pool.lane("127.0.0.1:1", "")
        assert pool.lane("127.0.0.1:1", "") is first  # idle: the first connection
        first.in_flight = 2
        second = pool.lane("127.0.0.1:1", "")
        assert second is not first and second.channel is not first.channel
        assert pool.lanes("127.0.0.1:1", "") == (first, second)
        first.release(None)  # a call on the first one ended: it takes calls again
        assert pool.lane("127.0.0.1:1", "") is first
        first.in_flight = second.in_flight = 2
        third = pool.lane("127.0.0.1:1", "")
        third.in_flight = 5
        second.in_flight = 3
        assert pool.lane("127.0.0.1:1", "") is first  # at the cap: the least busy
        assert len(pool.lanes("127.0.0.1:1", "")) == 3
        assert pool.lanes("127.0.0.1:1", "other") == ()
        assert len(pool.forget(set())) == 3  # every connection of a forgotten key is handed back
        await first.channel.close()
        await second.channel.close()
        await third.channel.close()

    asyncio.run(scenario())


class _Peers(EchoService):
    """Echo that records the client address (host:port) each Unary call came from."""

    def __init__(self) -> None:
        super().__init__("peers")
        self.peers: list[str] = []

    async def Unary(self, request: echo_pb2.EchoRequest, context: Any) -> echo_pb2.EchoResponse:
        self.peers.append(context.peer())
        return await super().Unary(request, context)


async def _one(message: bytes) -> Any:
    yield message


def test_connections_are_separate_and_the_connector_releases_each_call() -> None:
    async def scenario() -> None:
        service = _Peers()
        server = grpc.aio.server()
        echo_pb2_grpc.add_EchoServicer_to_server(service, server)
        address = f"127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
        await server.start()
        kinds = MethodKinds()
        kinds.learn("apex.mesh.v1.Echo", {"/apex.mesh.v1.Echo/Unary": Kind.UNARY})
        connector = GrpcConnector(kinds, ChannelPool(per_connection=1, max_connections=2))
        try:
            payload = echo_pb2.EchoRequest(payload=b"p", delay_ms=200).SerializeToString()
            requests = [Request(CallDescriptor("/apex.mesh.v1.Echo/Unary"), _one(payload)) for _ in range(2)]
            responses = [await connector(address, "", request) for request in requests]
            assert len(connector.pool.lanes(address, "")) == 2  # the first was busy: a second opened
            for request, response in zip(requests, responses, strict=True):
                assert await response.read() is not None
                status = await response.status()
                assert status.ok
                request.finish(status)
            released = [lane.in_flight for lane in connector.pool.lanes(address, "")]
            assert released == [0, 0]  # finished calls gave their slots back
            hosts = {peer.rpartition(":")[2] for peer in service.peers}
            assert len(hosts) == 2, service.peers  # two client ports: two TCP connections
        finally:
            await connector.close()
            await server.stop(0)

    asyncio.run(scenario())
