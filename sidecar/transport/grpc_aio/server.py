"""A listener: a grpc.aio server whose generic handler relays every call into a Service.

The call kind is not on the wire, so a call is handled as a bidi stream of raw bytes unless the
transport's MethodKinds (learned by its connector) knows the method is unary. Order matters for
transparency: headers are sent only when the upstream sent some (a trailers-only answer stays
trailers-only), then messages, then status and trailers.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from sidecar.core import errors
from sidecar.core.call import CallDescriptor, Code, Status
from sidecar.core.service import Request, Response
from sidecar.core.transport import ListenerSpec, Switch
from sidecar.transport.grpc_aio.method_kinds import MethodKinds
from sidecar.transport.grpc_aio.wire import TO_GRPC, inbound_metadata, listener_options

log = logging.getLogger(__name__)

CANCELLED = Status(Code.CANCELLED, "cancelled by the caller")


async def _read_requests(context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[bytes]:
    while True:
        message = await context.read()
        if message is grpc.aio.EOF:
            return
        yield message


async def _one(message: bytes) -> AsyncIterator[bytes]:
    yield message


class _Handler(grpc.GenericRpcHandler):
    """Relays every call into the listener's service: as a unary call when the method is known
    to be unary (cheaper: one batch each way), otherwise as a bidi stream of raw bytes."""

    def __init__(self, listener: str, default_authority: str, switch: Switch, kinds: MethodKinds) -> None:
        self._listener = listener
        self._default_authority = default_authority
        self._switch = switch
        self._kinds = kinds

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Any, Any]:
        method, metadata = handler_call_details.method, handler_call_details.invocation_metadata
        if self._kinds.is_unary(method):
            return grpc.unary_unary_rpc_method_handler(functools.partial(self._relay_unary, method, metadata))
        return grpc.stream_stream_rpc_method_handler(functools.partial(self._relay, method, metadata))

    def _call(self, method: str, raw_metadata: Any, context: Any) -> CallDescriptor:
        metadata, authority = inbound_metadata(raw_metadata)
        remaining = context.time_remaining()
        return CallDescriptor(
            method=method,
            authority=authority or self._default_authority,
            metadata=metadata,
            deadline=None if remaining is None else time.monotonic() + remaining,
            listener=self._listener,
            peer=context.peer(),
        )

    async def _relay(
        self, method: str, raw_metadata: Any, _: object, context: grpc.aio.ServicerContext[Any, Any]
    ) -> None:
        request = Request(self._call(method, raw_metadata, context), _read_requests(context))
        status = await self._forward(request, context, context.write)
        _end(status, context)

    async def _relay_unary(
        self, method: str, raw_metadata: Any, message: bytes, context: grpc.aio.ServicerContext[Any, Any]
    ) -> bytes | None:
        request = Request(self._call(method, raw_metadata, context), _one(message))
        replies: list[bytes] = []

        async def keep(reply: bytes) -> None:
            replies.append(reply)

        status = await self._forward(request, context, keep)
        if status.ok and len(replies) != 1:
            status = Status(Code.INTERNAL, f"apex: upstream answered a unary call with {len(replies)} messages")
        _end(status, context)
        return replies[0] if status.ok else None

    async def _forward(self, request: Request, context: Any, deliver: Callable[[bytes], Awaitable[None]]) -> Status:
        """Send the request down the stack and the answer's headers and messages back; the
        request is finished here, whatever happens (the single exit point of a call)."""
        response: Response | None = None
        status = CANCELLED
        completed = False
        try:
            response = await self._switch.service(request)
            headers = await response.initial_metadata()
            if headers:
                await context.send_initial_metadata(headers)
            while (message := await response.read()) is not None:
                await deliver(message)
            status = await response.status()
            completed = True
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("relay of %s failed", request.call.method, extra={"trace_id": errors.trace_id(request.call)})
            status = errors.hidden(request.call, Code.INTERNAL, "apex: sidecar error relaying the call", repr(exc))
        finally:
            if response is not None and not completed:
                response.cancel()  # the caller went away or we failed: stop the upstream call
            request.finish(status)
        return status


def _end(status: Status, context: Any) -> None:
    if status.trailing_metadata:
        context.set_trailing_metadata(status.trailing_metadata)
    if status.code is not Code.OK:
        context.set_code(TO_GRPC[status.code])
        context.set_details(status.details)


class GrpcListener:
    """One bound listener serving the service held by `switch`, enforcing `spec.limits`."""

    def __init__(self, spec: ListenerSpec, switch: Switch, kinds: MethodKinds) -> None:
        self.name = spec.name
        self.address = spec.address
        self.bound = ""
        self._server = grpc.aio.server(options=listener_options(spec.limits))
        self._server.add_generic_rpc_handlers([_Handler(spec.name, spec.default_authority, switch, kinds)])

    async def start(self) -> str:
        """Bind and start; return the bound `host:port` (port 0 resolved)."""
        port = self._server.add_insecure_port(self.address)
        if port == 0:
            raise OSError(f"listener {self.name!r} could not bind {self.address}")
        host = self.address.rpartition(":")[0]
        self.bound = f"{host}:{port}"
        await self._server.start()
        return self.bound

    async def stop(self, grace: float | None) -> None:
        await self._server.stop(grace)
