"""mTLS for the h2 transport: SSL contexts that follow rotation, an accept loop owning each handshake, peer identities.

Owning the socket gives what grpc's transport cannot: the listener accepts, peeks the first byte
for permissive mode (0x16 = a TLS handshake, else the plaintext HTTP/2 preface: no relay hop),
picks the SSLContext of the certificate in force at that moment (a rotation takes effect at the
next handshake; established connections keep theirs) and sees every failed handshake and why
(`HandshakeFailures`, per reason).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sidecar.security.handshake import HandshakeFailures
from sidecar.security.peer import MtlsMode

if TYPE_CHECKING:  # cryptography is loaded only by a sidecar with an identity
    from sidecar.security.credentials import Credentials
    from sidecar.security.tls import ListenerTls

log = logging.getLogger(__name__)

TLS_HANDSHAKE = 0x16  # the first byte of a TLS record carrying a ClientHello


class Contexts:
    """The SSLContext of the workload certificate in force, rebuilt once per rotation (generation)."""

    def __init__(self, credentials: Credentials, server: bool, alpn: tuple[str, ...] = ("h2",)) -> None:
        self.credentials = credentials
        self.server = server
        self.alpn = alpn
        self._built: tuple[int, ssl.SSLContext] | None = None

    def current(self) -> tuple[int, ssl.SSLContext]:
        """(generation, context) for a new connection; ValueError without a certificate."""
        material = self.credentials.current()
        if material is None:
            raise ValueError("mTLS without a workload certificate")
        built = self._built
        if built is None or built[0] != material.generation:
            context = material.ssl_context(self.server)
            if self.alpn != ("h2",):
                context.set_alpn_protocols(list(self.alpn))
            built = self._built = (material.generation, context)
        return built


def peer_uris(transport: Any) -> list[str]:
    """The URI SANs of the peer's verified certificate ([] for plaintext or no certificate)."""
    cert = transport.get_extra_info("peercert")
    if not cert:
        return []
    return [value for kind, value in cert.get("subjectAltName", ()) if kind == "URI"]


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _peek(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> bytes:
    """The first byte the client sent, left in the socket (MSG_PEEK); b"" when it closed."""
    while True:
        try:
            return sock.recv(1, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            pass
        readable: asyncio.Future[None] = loop.create_future()
        loop.add_reader(sock.fileno(), _wake, readable)
        try:
            await readable
        finally:
            loop.remove_reader(sock.fileno())


class Acceptor:
    """Accepts on a bound socket and hands each connection, after its TLS handshake (or as
    plaintext on a permissive listener), to a protocol made by `factory`."""

    def __init__(
        self,
        tls: ListenerTls,
        name: str,
        factory: Callable[[], asyncio.Protocol],
        handshake_timeout: float,
        alpn: tuple[str, ...] = ("h2",),  # ("http/1.1",): the metrics listener's HTTPS
    ) -> None:
        self.tls = tls
        self.name = name
        self.factory = factory
        self.handshake_timeout = handshake_timeout
        self.contexts = Contexts(tls.credentials, server=True, alpn=alpn)
        self.failures: HandshakeFailures = tls.handshakes
        self._sock: socket.socket | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> int:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host.strip("[]"), port), family=family, backlog=1024)
        sock.setblocking(False)
        self._sock = sock
        self._loop_task = asyncio.get_running_loop().create_task(self._accept())
        return int(sock.getsockname()[1])

    async def _accept(self) -> None:
        assert self._sock is not None
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(self._sock)
            except OSError as exc:  # EMFILE and the like: keep serving the connections we have
                log.warning("listener %s: accept failed: %s", self.name, exc)
                await asyncio.sleep(0.1)
                continue
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            task = loop.create_task(self._handshake(conn))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _handshake(self, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.handshake_timeout):
                secure = True
                if self.tls.mode is MtlsMode.PERMISSIVE:
                    first = await _peek(loop, conn)
                    if not first:
                        conn.close()
                        return
                    secure = first[0] == TLS_HANDSHAKE
                context = self.contexts.current()[1] if secure else None
                await loop.connect_accepted_socket(
                    self.factory, conn, ssl=context, ssl_handshake_timeout=self.handshake_timeout if secure else None
                )
        except (ssl.SSLError, OSError, TimeoutError, ValueError) as exc:
            why = self.failures.record(exc)
            log.info("listener %s: TLS handshake failed (%s): %s", self.name, why, exc)
            with contextlib.suppress(OSError):
                conn.close()

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for task in list(self._pending):
            task.cancel()
        if self._sock is not None:
            self._sock.close()
