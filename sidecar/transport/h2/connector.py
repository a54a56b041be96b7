"""The h2 connector: Requests out over pooled HTTP/2 connections per (address, authority), answers as Upstreams."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import ssl
import time
from collections.abc import AsyncIterator, Iterable

from sidecar.core.call import Code, Metadata, Status
from sidecar.core.compression import Compressed
from sidecar.core.service import Request, Upstream, local_error
from sidecar.core.transport import H2Settings
from sidecar.security.handshake import WRONG_SERVER_IDENTITY, HandshakeFailures
from sidecar.security.tls import ClientTls
from sidecar.transport.h2 import frames as f
from sidecar.transport.h2.aio import (
    H2Protocol,
    Inbound,
    Ledger,
    call_metadata,
    grpc_headers,
    header_encoding,
    status_from_headers,
)
from sidecar.transport.h2.connection import GrpcConnection, StreamError
from sidecar.transport.h2.events import (
    ConnectionTerminated,
    DataReceived,
    Event,
    GoAwayReceived,
    HeadersReceived,
    PingAcked,
    StreamReset,
)
from sidecar.transport.h2.grpc_wire import encode_message, encode_timeout
from sidecar.transport.h2.limits import Limits
from sidecar.transport.h2.tls import Contexts, peer_uris

log = logging.getLogger(__name__)

UPSTREAM_MESSAGE_LIMIT = 2**31 - 1  # answers are relayed at any size; the caller-facing limits are the listener's
_RESET_STATUS = {
    f.REFUSED_STREAM: Status(Code.UNAVAILABLE, "apex: upstream refused the stream"),
    f.CANCEL: Status(Code.CANCELLED, "apex: upstream cancelled the call"),
    f.ENHANCE_YOUR_CALM: Status(Code.RESOURCE_EXHAUSTED, "apex: upstream says enhance your calm"),
}


class _Call:
    """One outbound call: the Upstream (Response) the layers read."""

    __slots__ = ("_headers", "_proto", "_pump", "_status", "connecting", "inbound", "sid")

    def __init__(self, proto: _Client, sid: int, connecting: bool) -> None:
        loop = proto.loop
        self._proto = proto
        self.sid = sid
        self.inbound = Inbound(proto, sid, UPSTREAM_MESSAGE_LIMIT)
        self._headers: asyncio.Future[Metadata] = loop.create_future()
        self._status: asyncio.Future[Status] = loop.create_future()
        self._pump: asyncio.Task[None] | None = None
        self.connecting = connecting

    def on_headers(self, event: HeadersReceived) -> None:
        if event.end_stream:  # trailers, or a trailers-only answer
            if not self._headers.done():
                self._headers.set_result(())
            self.end(status_from_headers(event.headers))
        elif not self._headers.done():
            self.inbound.encoding = header_encoding(event.headers)
            self._headers.set_result(call_metadata(event.headers)[0])

    def end(self, status: Status) -> None:
        if not self._headers.done():
            self._headers.set_result(())
        if not self._status.done():
            self._status.set_result(status)
        self.inbound.fail(status) if not status.ok else self.inbound.on_data(b"", True)
        self._proto.calls.pop(self.sid, None)
        self._proto.close_if_drained()
        if self._pump is not None and not self._pump.done():
            self._pump.cancel()

    async def initial_metadata(self) -> Metadata:
        return await self._headers

    async def read(self) -> bytes | None:
        return await self.inbound.read()

    async def status(self) -> Status:
        status = await self._status
        error = self.inbound.error  # an answer the caller cannot read (a compressed message without grpc-encoding)
        return error if status.ok and error is not None else status

    def cancel(self) -> None:
        if self._status.done():
            return
        self._proto.conn.reset_stream(self.sid, f.CANCEL)
        self._proto.flush()
        self.end(Status(Code.CANCELLED, "cancelled by the caller"))

    async def pump(self, messages: AsyncIterator[bytes]) -> None:
        proto = self._proto
        try:
            async for message in messages:
                proto.conn.send_data(self.sid, encode_message(message, type(message) is Compressed))
                proto.flush_soon()
                await proto.drain(self.sid)
            proto.conn.send_data(self.sid, b"", end_stream=True)
            proto.flush_soon()
        except (StreamError, asyncio.CancelledError):
            return  # the call ended first: its own status stands
        except Exception as exc:
            log.debug("request stream ended abnormally; cancelling the upstream call", exc_info=True)
            proto.conn.reset_stream(self.sid, f.CANCEL)
            proto.flush()
            self.end(Status(Code.CANCELLED, f"apex: request stream failed: {exc}"))


# Answers' header lists are the upstream's to size: a client tolerates more than a listener accepts.
CLIENT_LIMITS = Limits(max_header_list_size=64 * 1024, max_header_block=128 * 1024)


class _Client(H2Protocol):
    """One upstream connection. While calls are open it PINGs every `keepalive` seconds and drops
    the connection (its calls answer UNAVAILABLE) when a PING is still unanswered at the next tick.
    After the peer's GOAWAY it takes no new calls and closes once its last call ends."""

    def __init__(
        self,
        keepalive: float = 30.0,
        ledger: Ledger | None = None,
        limits: Limits = CLIENT_LIMITS,
        failures: HandshakeFailures | None = None,
    ) -> None:
        super().__init__(GrpcConnection(client=True, limits=limits), ledger)
        self.calls: dict[int, _Call] = {}
        self.keepalive = keepalive
        self.generation = 0  # the workload certificate it was opened with (mTLS)
        self.retired = False  # opened with an older certificate: closes once its last call ends
        self.heard = False  # anything arrived from the peer after the handshake
        self._failures = failures
        self._ping_outstanding = False
        self._timer = self.loop.call_later(keepalive, self._tick)

    def inbounds(self) -> Iterable[Inbound]:
        return [call.inbound for call in self.calls.values()]

    def _tick(self) -> None:
        if self.transport is None:
            return
        if self._ping_outstanding:
            log.warning("h2 connector: upstream %s did not answer a keepalive PING; closing", self.peer)
            self.transport.close()
            return
        if self.calls:
            self._ping_outstanding = True
            self.conn.ping(b"apexkeep")
            self.flush()
        self._timer = self.loop.call_later(self.keepalive, self._tick)

    def data_received(self, data: bytes) -> None:
        self.heard = True
        super().data_received(data)

    def abandon(self) -> None:
        """Close a connection this side gave up on (not counted as refused by the peer)."""
        self._failures = None
        if self.transport is not None:
            self.transport.close()

    def close_if_drained(self) -> None:
        if not self.calls and self.transport is not None and (
            self.retired or self.conn.goaway_received is not None or self.conn.terminated is not None
        ):
            self.flush()
            self.transport.close()

    @property
    def usable(self) -> bool:
        return (
            self.transport is not None and not self.transport.is_closing() and self.conn.can_open and not self.retired
        )

    def on_event(self, event: Event) -> None:
        kind = type(event)
        if kind is DataReceived:
            call = self.calls.get(event.stream_id)  # type: ignore[union-attr]
            if call is not None:
                call.inbound.on_data(event.data, False)  # type: ignore[union-attr]
                if event.end_stream:  # type: ignore[union-attr]
                    call.end(Status(Code.INTERNAL, "apex: upstream ended the call without trailers"))
        elif kind is HeadersReceived:
            call = self.calls.get(event.stream_id)  # type: ignore[union-attr]
            if call is not None:
                call.on_headers(event)  # type: ignore[arg-type]
        elif kind is StreamReset:
            call = self.calls.get(event.stream_id)  # type: ignore[union-attr]
            if call is not None:
                code = event.error_code  # type: ignore[union-attr]
                call.end(_RESET_STATUS.get(code, Status(Code.INTERNAL, f"apex: upstream reset the stream ({code})")))
        elif kind is PingAcked:
            self._ping_outstanding = False
        elif kind is GoAwayReceived or kind is ConnectionTerminated:
            self.close_if_drained()  # can_open is now False: the pool opens another connection for new calls

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._timer.cancel()
        if self._failures is not None and not self.heard:
            # TLS 1.3: the server judges our certificate after our side of the handshake is done; an
            # OpenSSL server's alert arrives on the first read (exc names it), an asyncio server just
            # closes (its alert is never flushed): `closed_by_peer`.
            log.info("h2 connector: %s refused the connection (%s): %s", self.peer, self._failures.record(exc),
                     exc or "closed before any HTTP/2 frame")  # fmt: skip
        for call in list(self.calls.values()):
            call.end(Status(Code.UNAVAILABLE, f"apex: connection to upstream lost: {exc or 'closed'}"))


class H2Connector:
    """Pools connections per (address, authority); opens another when every open one is at the
    peer's MAX_CONCURRENT_STREAMS (or going away). A failed connect answers UNAVAILABLE."""

    def __init__(
        self,
        ssl_context: ssl.SSLContext | None = None,
        settings: H2Settings | None = None,
        ledger: Ledger | None = None,
        tls: ClientTls | None = None,
    ) -> None:
        settings = settings or H2Settings()
        self.ledger = ledger or Ledger()
        self.ssl = ssl_context
        self.tls = tls  # mTLS toward other sidecars: the workload certificate in force, rotation followed
        self._contexts = None if tls is None else Contexts(tls.credentials, server=False)
        self.connect_timeout = settings.connect_timeout
        self.keepalive = settings.keepalive_interval
        self.limits = dataclasses.replace(
            CLIENT_LIMITS, initial_window=settings.stream_window, connection_window=settings.connection_window
        )
        self._pool: dict[tuple[str, str], list[_Client]] = {}
        self._connecting: dict[tuple[str, str], asyncio.Future[_Client]] = {}

    async def _connection(self, address: str, authority: str) -> tuple[_Client, bool]:
        key = (address, authority)
        conns = self._pool.setdefault(key, [])
        if self.tls is not None:
            self._retire_stale(conns)
        for proto in conns:
            if proto.usable:
                return proto, False
        conns[:] = [c for c in conns if c.transport is not None and not c.transport.is_closing() and not c.retired]
        pending = self._connecting.get(key)
        if pending is None:
            pending = self._connecting[key] = asyncio.ensure_future(self._open(address, authority))
            pending.add_done_callback(lambda _: self._connecting.pop(key, None))
        proto = await asyncio.shield(pending)
        if proto not in conns:
            conns.append(proto)
        if not proto.usable:
            if proto.transport is None or proto.transport.is_closing() or proto.conn.goaway_received is not None:
                raise OSError("the new connection closed at once")  # no loop of reconnects
            return await self._connection(address, authority)  # filled by the calls that waited with us
        return proto, True

    def _retire_stale(self, conns: list[_Client]) -> None:
        """After a rotation new calls go on new connections; old ones close when their calls end."""
        assert self.tls is not None
        generation = self.tls.credentials.generation
        for proto in conns:
            if proto.generation != generation and not proto.retired:
                proto.retired = True
                proto.close_if_drained()

    async def _open(self, address: str, authority: str) -> _Client:
        host, _, port = address.rpartition(":")
        loop = asyncio.get_running_loop()
        if self._contexts is not None:
            return await self._open_mtls(address)
        sni = None
        if self.ssl is not None:
            sni = (authority.rpartition(":")[0] if ":" in authority else authority) or host
        def protocol() -> _Client:
            return _Client(self.keepalive, self.ledger, self.limits)

        _, proto = await asyncio.wait_for(
            loop.create_connection(protocol, host.strip("[]"), int(port), ssl=self.ssl, server_hostname=sni),
            self.connect_timeout,
        )
        return proto

    async def _open_mtls(self, address: str) -> _Client:
        """A connection presenting the workload certificate; the server must prove a SPIFFE ID of
        the mesh's trust domain (its certificate chains to the bundle: the context checks that)."""
        assert self.tls is not None and self._contexts is not None
        tls = self.tls
        host, _, port = address.rpartition(":")
        generation, context = self._contexts.current()
        try:
            _, proto = await asyncio.wait_for(
                asyncio.get_running_loop().create_connection(
                    lambda: _Client(self.keepalive, self.ledger, self.limits, tls.handshakes),
                    host.strip("[]"),
                    int(port),
                    ssl=context,
                    server_hostname=tls.server_name,
                    ssl_handshake_timeout=self.connect_timeout,
                ),
                self.connect_timeout,
            )
        except ssl.SSLError as exc:
            log.info("h2 connector: TLS handshake with %s failed (%s): %s", address, tls.handshakes.record(exc), exc)
            raise
        proto.generation = generation
        uris = peer_uris(proto.transport)
        if not tls.accepts(uris):
            tls.handshakes[WRONG_SERVER_IDENTITY] += 1
            proto.abandon()
            wanted = tls.server_identity or f"an identity of trust domain {tls.trust_domain}"
            raise OSError(f"{address} presented {uris or 'no identity'}, not {wanted}")
        return proto

    async def __call__(self, address: str, authority: str, request: Request) -> Upstream:
        try:
            proto, connecting = await self._connection(address, authority)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            return local_error(Code.UNAVAILABLE, f"apex: cannot connect to {address}: {exc}")
        call = request.call
        headers = [
            (b":method", b"POST"),
            (b":scheme", b"https" if self.ssl or self.tls else b"http"),
            (b":path", call.method.encode()),
            (b":authority", (authority or address).encode()),
            (b"content-type", b"application/grpc"),
            (b"te", b"trailers"),
        ]
        if call.deadline is not None:
            headers.append((b"grpc-timeout", encode_timeout(call.deadline - time.monotonic())))
        headers += grpc_headers(call.metadata)
        try:
            sid = proto.conn.send_request(headers)
        except StreamError as exc:
            return local_error(Code.UNAVAILABLE, f"apex: no stream to {address}: {exc}")
        upstream = proto.calls[sid] = _Call(proto, sid, connecting)
        upstream._pump = proto.loop.create_task(upstream.pump(request.messages))
        # Scheduled after the pump's first step: a request message already here (a unary call's) goes
        # out with the HEADERS in one write; one still to come lets the HEADERS go alone.
        proto.flush_soon()
        return upstream

    async def close(self) -> None:
        for conns in self._pool.values():
            for proto in conns:
                with contextlib.suppress(Exception):
                    proto.conn.goaway()
                    proto.flush()
                    proto.abandon()
        self._pool.clear()
