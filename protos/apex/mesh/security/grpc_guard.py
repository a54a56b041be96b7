"""Server-side call guards shared by the control plane and the sidecar's admin listener.

A gRPC interceptor gets a method's handler and may hand grpc another of the same kind (unary or
streaming on each side): `refusal` answers every call with a status, `before_each_call` runs an async
check on each call's context first (it may abort the call, or set context variables the handler reads:
it is awaited in the handler's own task).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

import grpc

Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
Check: TypeAlias = Callable[[Any], Awaitable[None]]  # the call's ServicerContext -> None, or the call is aborted

_KINDS = (  # (handler attribute, the factory for that kind, answers with a stream)
    ("unary_unary", grpc.unary_unary_rpc_method_handler, False),
    ("unary_stream", grpc.unary_stream_rpc_method_handler, True),
    ("stream_unary", grpc.stream_unary_rpc_method_handler, False),
    ("stream_stream", grpc.stream_stream_rpc_method_handler, True),
)


def _rebuild(handler: Handler, wrap: Callable[[Callable[..., Any], bool], Callable[..., Any]]) -> Handler:
    for attr, make, streaming in _KINDS:
        behavior = getattr(handler, attr)
        if behavior is not None:
            return make(
                wrap(behavior, streaming),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
    return handler


def before_each_call(handler: Handler, check: Check) -> Handler:
    """`handler`, with `check(context)` awaited before each call it serves."""

    def wrap(behavior: Callable[..., Any], streaming: bool) -> Callable[..., Any]:
        if streaming:

            async def stream(request: Any, context: Any) -> Any:
                await check(context)
                async for item in behavior(request, context):
                    yield item

            return stream

        async def unary(request: Any, context: Any) -> Any:
            await check(context)
            return await behavior(request, context)

        return unary

    return _rebuild(handler, wrap)


def refusal(handler: Handler, code: grpc.StatusCode, message: str) -> Handler:
    """A handler of `handler`'s kind that answers every call `code` with `message`, running nothing."""

    async def refuse(context: Any) -> None:
        await context.abort(code, message)

    def wrap(_: Callable[..., Any], streaming: bool) -> Callable[..., Any]:
        if streaming:

            async def stream(request: Any, context: Any) -> Any:
                await refuse(context)
                yield  # pragma: no cover  (abort raises)

            return stream

        async def unary(request: Any, context: Any) -> Any:
            await refuse(context)

        return unary

    return _rebuild(handler, wrap)
