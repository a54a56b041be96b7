"""apex.mesh.security.grpc_guard on a real grpc.aio server: a refusal keeps each method's kind and
answers its status without running the method; a check runs before every call of every kind, sees the
call's context, can abort it, and context variables it sets are what the method sees."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from apex.mesh.security import grpc_guard

SEEN: contextvars.ContextVar[str] = contextvars.ContextVar("seen", default="")
ran: list[str] = []


async def _unary(request: bytes, context: Any) -> bytes:
    ran.append("unary")
    return SEEN.get().encode()


async def _stream(request: Any, context: Any) -> AsyncIterator[bytes]:
    ran.append("stream")
    yield SEEN.get().encode()


async def _client_stream(requests: AsyncIterator[bytes], context: Any) -> bytes:
    ran.append("client_stream")
    return SEEN.get().encode()


async def _bidi(requests: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
    ran.append("bidi")
    yield SEEN.get().encode()


def _same(b: bytes) -> bytes:
    return b


HANDLERS = {
    "/t.T/Unary": grpc.unary_unary_rpc_method_handler(_unary, _same, _same),
    "/t.T/Stream": grpc.unary_stream_rpc_method_handler(_stream, _same, _same),
    "/t.T/ClientStream": grpc.stream_unary_rpc_method_handler(_client_stream, _same, _same),
    "/t.T/Bidi": grpc.stream_stream_rpc_method_handler(_bidi, _same, _same),
}


class Guarded(grpc.GenericRpcHandler):
    def service(self, details: grpc.HandlerCallDetails) -> Any:
        handler = HANDLERS.get(details.method)
        if handler is None:
            return None
        metadata = dict(details.invocation_metadata or ())
        if metadata.get("who") == "nobody":
            return grpc_guard.refusal(handler, grpc.StatusCode.UNAUTHENTICATED, "who are you?")

        async def check(context: Any) -> None:
            who = dict(context.invocation_metadata()).get("who", "")
            if who == "mallory":
                await context.abort(grpc.StatusCode.PERMISSION_DENIED, "not mallory")
            SEEN.set(who)

        return grpc_guard.before_each_call(handler, check)


async def _one(channel: grpc.aio.Channel, method: str, who: str) -> tuple[grpc.StatusCode, str, bytes]:
    md = (("who", who),)

    async def requests() -> AsyncIterator[bytes]:
        yield b"x"

    try:
        if method.endswith("/Unary"):
            answers = [await channel.unary_unary(method)(b"x", metadata=md)]
        elif method.endswith("/Stream"):
            answers = [a async for a in channel.unary_stream(method)(b"x", metadata=md)]
        elif method.endswith("/ClientStream"):
            answers = [await channel.stream_unary(method)(requests(), metadata=md)]
        else:
            answers = [a async for a in channel.stream_stream(method)(requests(), metadata=md)]
    except grpc.aio.AioRpcError as exc:
        return exc.code(), exc.details() or "", b""
    return grpc.StatusCode.OK, "", b"".join(answers)


@pytest.mark.parametrize("method", sorted(HANDLERS))
def test_guards_keep_the_kind_check_first_and_refuse_without_running(method: str) -> None:
    async def run() -> list[tuple[grpc.StatusCode, str, bytes]]:
        server = grpc.aio.server(handlers=[Guarded()])
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                return [await _one(channel, method, who) for who in ("alice", "mallory", "nobody")]
        finally:
            await server.stop(None)

    ran.clear()
    alice, mallory, nobody = asyncio.run(run())
    assert alice == (grpc.StatusCode.OK, "", b"alice")  # the check ran first and set what the method saw
    assert mallory == (grpc.StatusCode.PERMISSION_DENIED, "not mallory", b"")
    assert nobody == (grpc.StatusCode.UNAUTHENTICATED, "who are you?", b"")
    assert len(ran) == 1  # only alice's call reached the method
