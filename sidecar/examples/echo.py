"""An Echo service that answers as each request tells it to (status, metadata, delay, size).

Run it alone with `python -m sidecar.examples.echo --port 50051`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import uvloop
from apex.mesh.v1 import echo_pb2, echo_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection as grpc_reflection

SERVER_OPTIONS = (("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1))


class EchoService(echo_pb2_grpc.EchoServicer):
    """The servicer; records which tagged calls arrived and which were cancelled."""

    def __init__(self, name: str = "echo") -> None:
        self.name = name
        self.arrived: set[str] = set()
        self.cancelled: set[str] = set()
        self.calls = 0
        self.fail_with: grpc.StatusCode | None = None  # set by tests to make every call fail
        self.delay_ms = 0  # set by tests to make every call this much slower
        self.capacity = 0  # >0: at most this many calls do their delay_ms at once (an overloadable server)
        self._slots: asyncio.Semaphore | None = None
        self.serving = True  # what grpc.health.v1 Check answers (tests flip it)

    def _reply(self, req: echo_pb2.EchoRequest, context: Any, index: int = 0) -> echo_pb2.EchoResponse:
        remaining = context.time_remaining()
        payload = b"x" * req.response_size if req.response_size > 0 else req.payload
        return echo_pb2.EchoResponse(
            payload=payload,
            index=index,
            deadline_remaining=-1.0 if remaining is None else remaining,
            served_by=self.name,
        )

    async def _begin(self, req: echo_pb2.EchoRequest, context: Any) -> None:
        self.calls += 1
        if req.tag:
            self.arrived.add(req.tag)
        if self.fail_with is not None:
            await context.abort(self.fail_with, f"{self.name} is failing on purpose")
        if self.delay_ms:
            await self._work(self.delay_ms / 1000)
        if req.delay_ms:
            await asyncio.sleep(req.delay_ms / 1000)
        if req.echo_metadata:
            echoed = [(k, v) for k, v in context.invocation_metadata() if k.startswith("x-echo-")]
            await context.send_initial_metadata(echoed)
            context.set_trailing_metadata([(f"trailer-{k}", v) for k, v in echoed])

    async def _work(self, seconds: float) -> None:
        """Spend `seconds`; with a capacity, calls beyond it queue first (latency grows with load)."""
        if not self.capacity:
            await asyncio.sleep(seconds)
            return
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.capacity)
        async with self._slots:
            await asyncio.sleep(seconds)

    async def _end(self, req: echo_pb2.EchoRequest, context: Any) -> None:
        if req.status.code:
            await context.abort(_CODES[req.status.code], req.status.message, context.trailing_metadata() or ())

    def _cancelled(self, tag: str) -> None:
        if tag:
            self.cancelled.add(tag)

    @contextlib.contextmanager
    def _track(self, tag: str) -> Iterator[None]:
        try:
            yield
        except (asyncio.CancelledError, GeneratorExit):
            self._cancelled(tag)
            raise

    async def Unary(self, request: echo_pb2.EchoRequest, context: Any) -> echo_pb2.EchoResponse:
        with self._track(request.tag):
            await self._begin(request, context)
            await self._end(request, context)
            return self._reply(request, context)

    async def ClientStream(
        self, request_iterator: AsyncIterator[echo_pb2.EchoRequest], context: Any
    ) -> echo_pb2.EchoResponse:
        payloads: list[bytes] = []
        last = echo_pb2.EchoRequest()
        try:
            async for req in request_iterator:
                first, last = not payloads, req
                payloads.append(req.payload)
                if first:
                    await self._begin(req, context)
            await self._end(last, context)
        except asyncio.CancelledError:
            self._cancelled(last.tag)
            raise
        reply = self._reply(last, context, index=len(payloads))
        reply.payload = b"".join(payloads)
        return reply

    async def ServerStream(self, request: echo_pb2.EchoRequest, context: Any) -> AsyncIterator[echo_pb2.EchoResponse]:
        with self._track(request.tag):
            await self._begin(request, context)
            for i in range(request.response_count):
                yield self._reply(request, context, index=i)
                if request.delay_ms:
                    await asyncio.sleep(request.delay_ms / 1000)
            await self._end(request, context)

    async def Bidi(
        self, request_iterator: AsyncIterator[echo_pb2.EchoRequest], context: Any
    ) -> AsyncIterator[echo_pb2.EchoResponse]:
        index = 0
        tag = ""
        try:
            async for req in request_iterator:
                if index == 0:
                    tag = req.tag
                    await self._begin(req, context)
                elif req.delay_ms:
                    await asyncio.sleep(req.delay_ms / 1000)
                if req.status.code:
                    await self._end(req, context)
                yield self._reply(req, context, index=index)
                index += 1
        except (asyncio.CancelledError, GeneratorExit):  # GeneratorExit: closed while suspended
            self._cancelled(tag)
            raise


_CODES = {code.value[0]: code for code in grpc.StatusCode}


class EchoHealth(health_pb2_grpc.HealthServicer):
    """grpc.health.v1 for the Echo server: SERVING while `service.serving` is true."""

    def __init__(self, service: EchoService) -> None:
        self._service = service

    async def Check(self, request: health_pb2.HealthCheckRequest, context: Any) -> health_pb2.HealthCheckResponse:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if self._service.serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        return health_pb2.HealthCheckResponse(status=status)


async def start_server(
    service: EchoService, address: str = "127.0.0.1:0", reflection: bool = True
) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server(options=SERVER_OPTIONS)
    echo_pb2_grpc.add_EchoServicer_to_server(service, server)
    health_pb2_grpc.add_HealthServicer_to_server(EchoHealth(service), server)
    if reflection:  # lets sidecars learn which methods are unary
        names = (echo_pb2.DESCRIPTOR.services_by_name["Echo"].full_name, grpc_reflection.SERVICE_NAME)
        grpc_reflection.enable_server_reflection(names, server)
    port = server.add_insecure_port(address)
    await server.start()
    return server, port


class BackgroundEcho:
    """An Echo server on its own event loop in a thread, for tests and scripts."""

    def __init__(self, name: str = "echo", port: int = 0, reflection: bool = True) -> None:
        self.service = EchoService(name)
        self.reflection = reflection
        self._address = f"127.0.0.1:{port}"
        self.port = 0
        self._loop = uvloop.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name=f"echo-{name}")
        self._server: grpc.aio.Server | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> BackgroundEcho:
        self._thread.start()
        self._server, self.port = asyncio.run_coroutine_threadsafe(
            start_server(self.service, self._address, self.reflection), self._loop
        ).result(10)
        self._address = self.address  # restarts bind the same port
        return self

    def stop(self) -> None:
        """Stop serving (the thread stays, so `restart` can bind the same port again)."""
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._server.stop(0), self._loop).result(10)
            self._server = None

    def restart(self) -> None:
        self._server, _ = asyncio.run_coroutine_threadsafe(
            start_server(self.service, self._address, self.reflection), self._loop
        ).result(10)

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


async def _main(port: int, name: str) -> None:
    server, bound = await start_server(EchoService(name), f"0.0.0.0:{port}")
    print(f"echo service {name!r} listening on port {bound}", flush=True)
    await server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the example Echo service.")
    parser.add_argument("--port", type=int, default=50051)
    parser.add_argument("--name", default="echo")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(_main(args.port, args.name))


if __name__ == "__main__":
    main()
