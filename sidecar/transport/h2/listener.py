"""The h2 listener: an asyncio server whose connections turn HTTP/2 gRPC streams into Requests for a Service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import AsyncIterator, Iterable

from sidecar.core.call import CallDescriptor, Code, Status
from sidecar.core.compression import Compressed
from sidecar.core.service import Request, Response
from sidecar.core.transport import H2Settings, ListenerSpec, Switch
from sidecar.security.peer import UNAUTHENTICATED_REASONS, MtlsMode, Verdict
from sidecar.security.tls import ListenerTls
from sidecar.transport.h2 import frames as f
from sidecar.transport.h2.aio import (
    H2Protocol,
    Inbound,
    Ledger,
    call_metadata,
    grpc_headers,
    header_encoding,
    status_headers,
)
from sidecar.transport.h2.connection import GrpcConnection, StreamError
from sidecar.transport.h2.events import ConnectionTerminated, DataReceived, Event, HeadersReceived, StreamReset
from sidecar.transport.h2.grpc_wire import encode_message, parse_timeout
from sidecar.transport.h2.limits import Limits
from sidecar.transport.h2.tls import Acceptor, peer_uris

log = logging.getLogger(__name__)

CANCELLED = Status(Code.CANCELLED, "cancelled by the caller")
# Request-stream failures the caller is answered with: too large a message; a compressed one without
# a grpc-encoding (sidecar/transport/h2/aio.py, Inbound).
_REFUSALS = (Code.RESOURCE_EXHAUSTED, Code.INTERNAL)
RESPONSE_HEADERS = [(b":status", b"200"), (b"content-type", b"application/grpc")]


class _Server(H2Protocol):
    def __init__(self, listener: H2Listener) -> None:
        super().__init__(GrpcConnection(client=False, limits=listener.limits), listener.ledger)
        self.listener = listener
        self.calls: dict[int, tuple[Inbound, asyncio.Task[None]]] = {}
        self.verdict: Verdict | None = None  # the peer's identity under mTLS, judged once per connection

    def inbounds(self) -> Iterable[Inbound]:
        return [inbound for inbound, _ in self.calls.values()]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.listener.connections.add(self)
        if self.listener.tls is not None:
            self.verdict = self.listener.tls.check.judge(peer_uris(transport))
        self._active = True
        self._timer = self.loop.call_later(self.listener.header_timeout, self._check_preface)

    def data_received(self, data: bytes) -> None:
        self._active = True
        super().data_received(data)

    def _check_preface(self) -> None:
        """Header timeout: a connection that has not sent its preface in time is closed (slowloris)."""
        if self.transport is None:
            return
        if not self.conn.established:
            self.transport.close()
            return
        self._active = False
        self._timer = self.loop.call_later(self.listener.idle_timeout, self._check_idle)

    def _check_idle(self) -> None:
        """Idle timeout: no open call and nothing received for a whole period -> GOAWAY and close."""
        if self.transport is None:
            return
        if not self.calls and not self._active:
            self.conn.goaway()
            self.flush()
            self.transport.close()
            return
        self._active = False
        self._timer = self.loop.call_later(self.listener.idle_timeout, self._check_idle)

    def on_event(self, event: Event) -> None:
        kind = type(event)
        if kind is DataReceived:
            found = self.calls.get(event.stream_id)  # type: ignore[union-attr]
            if found is not None:
                found[0].on_data(event.data, event.end_stream)  # type: ignore[union-attr]
        elif kind is HeadersReceived:
            assert isinstance(event, HeadersReceived)
            if event.trailers:  # a client never sends trailers in gRPC: treat as end of stream
                found = self.calls.get(event.stream_id)
                if found is not None:
                    found[0].on_data(b"", True)
                return
            inbound = Inbound(self, event.stream_id, self.listener.spec.limits.max_message_bytes)
            inbound.encoding = header_encoding(event.headers)
            if event.end_stream:
                inbound.ended = True
            task = self.loop.create_task(self._serve(event.stream_id, event.headers, inbound))
            self.calls[event.stream_id] = (inbound, task)
        elif kind is StreamReset:
            self._wake_writer(event.stream_id)  # type: ignore[union-attr]  # an answer waiting in _sent
            found = self.calls.pop(event.stream_id, None)  # type: ignore[union-attr]
            if found is not None:
                found[0].fail(CANCELLED)
                found[1].cancel()
        elif kind is ConnectionTerminated:
            log.warning("h2 listener %s: ended a connection from %s: %s", self.listener.name, self.peer,
                        event.reason)  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._timer.cancel()
        self.listener.connections.discard(self)
        for inbound, task in self.calls.values():
            inbound.fail(CANCELLED)
            task.cancel()
        self.calls.clear()

    def _descriptor(self, headers: list[tuple[bytes, bytes]]) -> CallDescriptor:
        path = authority = b""
        deadline = None
        for name, value in headers:
            if name == b":path":
                path = value
            elif name == b":authority":
                authority = value
            elif name == b"grpc-timeout":
                deadline = time.monotonic() + parse_timeout(value)
        metadata, apex_authority = call_metadata(headers)
        return CallDescriptor(
            method=path.decode("utf-8", "replace"),
            authority=apex_authority or authority.decode("ascii", "replace").lower() or self.listener.default_authority,
            metadata=metadata,
            deadline=deadline,
            listener=self.listener.name,
            peer=self.peer,
            principal="" if self.verdict is None else self.verdict.principal,
        )

    def _refused(self, sid: int, inbound: Inbound, status: Status) -> None:
        """Answer a call from a peer the listener refuses; it never reaches the service."""
        self.calls.pop(sid, None)
        self._answer(sid, False, status)
        if not inbound.ended:
            self.conn.reset_stream(sid, f.NO_ERROR)
            self.flush_soon()

    async def _serve(self, sid: int, headers: list[tuple[bytes, bytes]], inbound: Inbound) -> None:
        verdict = self.verdict
        if verdict is not None:
            assert self.listener.tls is not None
            self.listener.tls.check.record(verdict)  # counted per call, as the grpc listener does
            if verdict.reject is not None:
                code = Code.UNAUTHENTICATED if verdict.reject in UNAUTHENTICATED_REASONS else Code.PERMISSION_DENIED
                log.info("listener %s refused %s (%s): %s", self.listener.name, self.peer, verdict.reject.value,
                         verdict.message)  # fmt: skip
                self._refused(sid, inbound, Status(code, verdict.message))
                return
        try:
            call = self._descriptor(headers)
        except ValueError as exc:
            self._answer(sid, False, Status(Code.INTERNAL, f"apex: {exc}"))
            return
        if call.principal and log.isEnabledFor(logging.DEBUG):
            log.debug("listener %s: call from %s authenticated as %s", self.listener.name, self.peer, call.principal,
                      extra={"principal": call.principal})  # fmt: skip

        async def messages() -> AsyncIterator[bytes]:
            while (message := await inbound.read()) is not None:
                yield message
            if inbound.error is not None and inbound.error.code in _REFUSALS:
                raise _Refused(inbound.error)

        request = Request(call, messages())
        response: Response | None = None
        status, sent_headers, completed = CANCELLED, False, False
        try:
            timeout = None if call.deadline is None else max(call.deadline - time.monotonic(), 0.0)
            async with asyncio.timeout(timeout):
                response = await self.listener.switch.service(request)
                metadata = await response.initial_metadata()
                if metadata:
                    self._headers(sid, grpc_headers(metadata))
                    sent_headers = True
                while (message := await response.read()) is not None:
                    if not sent_headers:
                        self._headers(sid, [])
                        sent_headers = True
                    self.conn.send_data(sid, encode_message(message, type(message) is Compressed))
                    self.flush_soon()
                    await self.drain(sid)
                status = await response.status()
                completed = True
        except TimeoutError:
            status = Status(Code.DEADLINE_EXCEEDED, "Deadline Exceeded")
        except _Refused as exc:
            status = exc.status
        except asyncio.CancelledError:
            status = CANCELLED
        except StreamError:
            status = CANCELLED  # the stream went away under us
        except Exception as exc:
            log.exception("relay of %s failed", call.method)
            status = Status(Code.INTERNAL, f"apex: sidecar error relaying the call: {exc}")
        finally:
            if response is not None and not completed:
                response.cancel()
            request.finish(status)
            self.calls.pop(sid, None)
        if inbound.error is not None and inbound.error.code in _REFUSALS:
            status = inbound.error
        if status is not CANCELLED or self.conn.terminated is None:
            self._answer(sid, sent_headers, status)
            if not inbound.ended:  # answered before the caller finished sending: stop its stream,
                await self._sent(sid)  # once the answer's DATA held by flow control and its trailers are out
                if not inbound.ended:
                    self.conn.reset_stream(sid, f.NO_ERROR)
                    self.flush_soon()

    async def _sent(self, sid: int) -> None:
        """Wait until the stream has no DATA queued for flow-control window (its trailers follow at once)."""
        while self.conn.buffered(sid) and not self.lost.done():
            waiter = self._writers[sid] = self.loop.create_future()
            await waiter

    def _headers(self, sid: int, extra: list[tuple[bytes, bytes]]) -> None:
        self.conn.send_headers(sid, RESPONSE_HEADERS + extra)

    def _answer(self, sid: int, sent_headers: bool, status: Status) -> None:
        with contextlib.suppress(StreamError):
            if sent_headers:
                self.conn.send_trailers(sid, status_headers(status))
            else:
                self.conn.send_headers(sid, RESPONSE_HEADERS + status_headers(status), end_stream=True)
        self.flush_soon()


class _Refused(Exception):
    def __init__(self, status: Status) -> None:
        super().__init__(status.details)
        self.status = status


class H2Listener:
    """One bound listener of transport `h2`, enforcing `spec.limits`. With `spec.tls` (mTLS strict or
    permissive) it accepts through an `Acceptor` owning each handshake; `ssl_context` is plain TLS."""

    def __init__(
        self,
        spec: ListenerSpec,
        switch: Switch,
        ssl_context: ssl.SSLContext | None = None,
        settings: H2Settings | None = None,
        ledger: Ledger | None = None,
    ) -> None:
        settings = settings or spec.h2
        self.ledger = ledger or Ledger()
        self.header_timeout = settings.header_timeout  # seconds to receive the connection preface
        self.idle_timeout = settings.idle_timeout  # a connection without calls or traffic this long is closed
        self.spec = spec
        self.name = spec.name
        self.default_authority = spec.default_authority
        self.switch = switch
        self.bound = ""
        self.ssl = ssl_context
        self.limits = Limits(
            max_concurrent_streams=spec.limits.max_concurrent_streams,
            max_header_list_size=spec.limits.max_metadata_bytes,
            max_header_block=max(spec.limits.max_metadata_bytes * 2, 16_384),
            max_message=spec.limits.max_message_bytes,
            initial_window=settings.stream_window,
            connection_window=settings.connection_window,
        )
        self.connections: set[_Server] = set()
        self._server: asyncio.Server | None = None
        mtls = spec.tls is not None and spec.tls.mode is not MtlsMode.DISABLE
        self.tls: ListenerTls | None = spec.tls if mtls else None
        self._acceptor: Acceptor | None = None

    async def start(self) -> str:
        host, _, port = self.spec.address.rpartition(":")
        if self.tls is not None:
            self._acceptor = Acceptor(self.tls, self.name, lambda: _Server(self), self.header_timeout)
            self.bound = f"{host}:{await self._acceptor.start(host, int(port))}"
            return self.bound
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Server(self), host, int(port), ssl=self.ssl)
        bound_port = self._server.sockets[0].getsockname()[1]
        self.bound = f"{host}:{bound_port}"
        return self.bound

    async def stop(self, grace: float | None) -> None:
        """GOAWAY with the last stream id to every connection, let in-flight calls drain, then close."""
        if self._acceptor is not None:
            await self._acceptor.stop()
        elif self._server is None:
            return
        else:
            self._server.close()
        for conn in list(self.connections):
            conn.conn.goaway()
            conn.flush()
        tasks = [task for conn in self.connections for _, task in conn.calls.values()]
        if tasks and grace:
            await asyncio.wait(tasks, timeout=grace)
        for conn in list(self.connections):
            for _, task in list(conn.calls.values()):
                task.cancel()
            if conn.transport is not None:
                conn.transport.close()
        if self._server is not None:
            await self._server.wait_closed()
