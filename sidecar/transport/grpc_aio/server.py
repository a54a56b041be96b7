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
from sidecar.core.compression import decompress
from sidecar.core.service import Request, Response
from sidecar.core.transport import ListenerSpec, Switch
from sidecar.security.peer import UNAUTHENTICATED_REASONS, MtlsMode, PeerCheck
from sidecar.transport.grpc_aio.method_kinds import MethodKinds
from sidecar.transport.grpc_aio.sniff import SniffingFront
from sidecar.transport.grpc_aio.tls import peer_uris, server_credentials
from sidecar.transport.grpc_aio.wire import TO_GRPC, inbound_metadata, listener_options, split_compression

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

    def __init__(
        self, listener: str, default_authority: str, switch: Switch, kinds: MethodKinds, check: PeerCheck | None
    ) -> None:
        self._listener = listener
        self._default_authority = default_authority
        self._switch = switch
        self._kinds = kinds
        self._check = check

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Any, Any]:
        method, metadata = handler_call_details.method, handler_call_details.invocation_metadata
        if self._kinds.is_unary(method):
            return grpc.unary_unary_rpc_method_handler(functools.partial(self._relay_unary, method, metadata))
        return grpc.stream_stream_rpc_method_handler(functools.partial(self._relay, method, metadata))

    def _principal(self, context: Any) -> str:
        """The caller's SPIFFE ID under mTLS ("" without); a refused peer ends the call here."""
        if self._check is None:
            return ""
        verdict = self._check.verdict(peer_uris(context))
        if verdict.reject is not None:
            code = Code.UNAUTHENTICATED if verdict.reject in UNAUTHENTICATED_REASONS else Code.PERMISSION_DENIED
            log.info(
                "listener %s refused %s (%s): %s", self._listener, context.peer(), verdict.reject.value, verdict.message
            )
            raise _Refused(Status(code, verdict.message))
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "listener %s: call from %s authenticated as %s",
                self._listener,
                context.peer(),
                verdict.principal or "-",
                extra={"principal": verdict.principal},
            )
        return verdict.principal

    def _call(self, method: str, raw_metadata: Any, context: Any) -> CallDescriptor:
        principal = self._principal(context)
        metadata, authority = inbound_metadata(raw_metadata)
        remaining = context.time_remaining()
        return CallDescriptor(
            method=method,
            authority=authority or self._default_authority,
            metadata=metadata,
            deadline=None if remaining is None else time.monotonic() + remaining,
            listener=self._listener,
            peer=context.peer(),
            principal=principal,
        )

    async def _relay(
        self, method: str, raw_metadata: Any, _: object, context: grpc.aio.ServicerContext[Any, Any]
    ) -> None:
        try:
            call = self._call(method, raw_metadata, context)
        except _Refused as refused:
            _end(refused.status, context)
            return
        request = Request(call, _read_requests(context))
        status = await self._forward(request, context, context.write)
        _end(status, context)

    async def _relay_unary(
        self, method: str, raw_metadata: Any, message: bytes, context: grpc.aio.ServicerContext[Any, Any]
    ) -> bytes | None:
        try:
            call = self._call(method, raw_metadata, context)
        except _Refused as refused:
            _end(refused.status, context)
            return None
        request = Request(call, _one(message))
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
            headers, compress = split_compression(await response.initial_metadata())
            if compress is not None:
                context.set_compression(compress)  # the upstream's answer came compressed: so does ours
            if headers:
                await context.send_initial_metadata(headers)
            while (message := await response.read()) is not None:
                await deliver(decompress(message))
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


class _Refused(Exception):
    def __init__(self, status: Status) -> None:
        super().__init__(status.details)
        self.status = status


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
        self.tls = spec.tls
        self._front: SniffingFront | None = None
        check = None if spec.tls is None else spec.tls.check
        self._server = grpc.aio.server(options=listener_options(spec.limits))
        self._server.add_generic_rpc_handlers([_Handler(spec.name, spec.default_authority, switch, kinds, check)])

    async def start(self) -> str:
        """Bind and start; return the bound `host:port` (port 0 resolved)."""
        if self.tls is None or self.tls.mode is MtlsMode.DISABLE:
            port = self._server.add_insecure_port(self.address)
        elif self.tls.mode is MtlsMode.STRICT:
            port = self._server.add_secure_port(self.address, server_credentials(self.tls.credentials))
        else:  # permissive: plaintext and mTLS on one port, through a front that routes by the first byte
            tls_port = self._server.add_secure_port("127.0.0.1:0", server_credentials(self.tls.credentials))
            plain_port = self._server.add_insecure_port("127.0.0.1:0")
            self._front = SniffingFront(self.address, tls_port, plain_port)
            await self._server.start()
            port = await self._front.start()
            self.bound = f"{self.address.rpartition(':')[0]}:{port}"
            return self.bound
        if port == 0:
            raise OSError(f"listener {self.name!r} could not bind {self.address}")
        host = self.address.rpartition(":")[0]
        self.bound = f"{host}:{port}"
        await self._server.start()
        return self.bound

    async def stop(self, grace: float | None) -> None:
        if self._front is not None:
            await self._front.stop()
        await self._server.stop(grace)
