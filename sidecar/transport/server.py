"""A listener: a grpc.aio server whose generic handler relays every call into a Service.

The call kind is not on the wire, so every call is handled as a bidi stream of raw bytes.
Order matters for transparency: headers are sent only when the upstream sent some (a
trailers-only answer stays trailers-only), then messages, then status and trailers.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc

from sidecar.core.call import CallDescriptor, Code, Status
from sidecar.core.service import Request, Response, Service
from sidecar.transport.wire import TO_GRPC, UNLIMITED_MESSAGES, inbound_metadata

log = logging.getLogger(__name__)

CANCELLED = Status(Code.CANCELLED, "cancelled by the caller")


class Switch:
    """Holds the service currently serving a listener; swapping it is atomic for new calls."""

    __slots__ = ("service",)

    def __init__(self, service: Service) -> None:
        self.service = service


async def _read_requests(context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[bytes]:
    while True:
        message = await context.read()
        if message is grpc.aio.EOF:
            return
        yield message


class _Handler(grpc.GenericRpcHandler):
    def __init__(self, listener: str, default_authority: str, switch: Switch) -> None:
        self._listener = listener
        self._default_authority = default_authority
        self._switch = switch

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Any, Any]:
        relay = functools.partial(self._relay, handler_call_details.method, handler_call_details.invocation_metadata)
        return grpc.stream_stream_rpc_method_handler(relay)

    async def _relay(
        self, method: str, raw_metadata: Any, _: object, context: grpc.aio.ServicerContext[Any, Any]
    ) -> None:
        metadata, authority = inbound_metadata(raw_metadata)
        remaining = context.time_remaining()
        call = CallDescriptor(
            method=method,
            authority=authority or self._default_authority,
            metadata=metadata,
            deadline=None if remaining is None else time.monotonic() + remaining,
            listener=self._listener,
            peer=context.peer(),
        )
        request = Request(call, _read_requests(context))
        response: Response | None = None
        status = CANCELLED
        completed = False
        try:
            response = await self._switch.service(request)
            headers = await response.initial_metadata()
            if headers:
                await context.send_initial_metadata(headers)
            while (message := await response.read()) is not None:
                await context.write(message)
            status = await response.status()
            completed = True
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("relay of %s failed", method)
            status = Status(Code.INTERNAL, f"apex: sidecar error relaying the call: {exc}")
        finally:
            if response is not None and not completed:
                response.cancel()  # the caller went away or we failed: stop the upstream call
            request.finish(status)
        if status.trailing_metadata:
            context.set_trailing_metadata(status.trailing_metadata)
        if status.code is not Code.OK:
            context.set_code(TO_GRPC[status.code])
            context.set_details(status.details)


class GrpcListener:
    """One bound listener serving the service held by `switch`."""

    def __init__(self, name: str, address: str, switch: Switch, default_authority: str = "") -> None:
        self.name = name
        self.address = address
        self.bound = ""
        self._server = grpc.aio.server(options=UNLIMITED_MESSAGES)
        self._server.add_generic_rpc_handlers([_Handler(name, default_authority, switch)])

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
