"""An Echo upstream for the wire tests: counts concurrent calls, and never sheds load itself.

grpc core servers refuse calls at random once more than 1000 wait for the application
(`grpc.server.max_pending_requests`); that upstream behaviour is turned off here so a
CANCELLED a test sees can only come from the sidecar under test.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import grpc
import uvloop
from apex.mesh.v1 import echo_pb2, echo_pb2_grpc

from sidecar.examples.echo import EchoService

OPTIONS = (
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
    ("grpc.server.max_pending_requests", 2**31 - 1),
    ("grpc.server.max_pending_requests_hard_limit", 2**31 - 1),
    ("grpc.http.overload_protection", 0),
)


class CountingEcho(EchoService):
    """Echo that records the most Unary calls it was serving at once."""

    def __init__(self) -> None:
        super().__init__("wire")
        self.in_flight = 0
        self.most_in_flight = 0

    async def Unary(self, request: echo_pb2.EchoRequest, context: Any) -> echo_pb2.EchoResponse:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return await super().Unary(request, context)
        finally:
            self.in_flight -= 1


class WireUpstream:
    """A CountingEcho on its own event loop in a thread."""

    def __init__(self) -> None:
        self.service = CountingEcho()
        self.port = 0
        self._loop = uvloop.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="wire-upstream")
        self._server: grpc.aio.Server | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def _start(self) -> None:
        self._server = grpc.aio.server(options=OPTIONS)
        echo_pb2_grpc.add_EchoServicer_to_server(self.service, self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()

    def start(self) -> WireUpstream:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def close(self) -> None:
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._server.stop(0), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
