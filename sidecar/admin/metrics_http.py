"""A tiny asyncio HTTP/1.1 server answering GET /metrics (Prometheus text, or OpenMetrics when asked).

Who may scrape follows the admin listener's rule (`sidecar.admin.access`, docs/security.md): a bearer
token (401 without it or with a wrong one) and/or HTTPS with the workload certificate, requiring a
client certificate from the trust bundle (handshake failures counted by reason) whose SPIFFE ID the
listener's PeerCheck allows (403 otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from sidecar.admin.access import AccessGuard

if TYPE_CHECKING:
    from sidecar.security.tls import ListenerTls
    from sidecar.transport.h2.tls import Acceptor

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 16 * 1024
HANDSHAKE_TIMEOUT = 10.0


def _header(head: bytes, wanted: bytes) -> str | None:
    """The first value of a request header (latin-1), None when absent."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == wanted:
            return value.strip().decode("latin-1")
    return None


def _accepts_openmetrics(head: bytes) -> bool:
    accept = _header(head, b"accept")
    return accept is not None and "application/openmetrics-text" in accept.lower()


class MetricsServer:
    """Serves `render()` at /metrics; one short request per connection (Connection: close).

    A scraper whose Accept header names `application/openmetrics-text` gets `openmetrics()` (with
    exemplars) as `openmetrics_type` instead, when given. `guard` says who may scrape (a token, a
    peer check); with `tls` the listener speaks HTTPS only (mTLS: a client certificate is required).
    """

    def __init__(
        self,
        address: str,
        render: Callable[[], str],
        content_type: str,
        openmetrics: Callable[[], str] | None = None,
        openmetrics_type: str = "",
        guard: AccessGuard | None = None,
        tls: ListenerTls | None = None,
    ) -> None:
        self.address = address
        self.bound = ""
        self._render = render
        self._content_type = content_type
        self._openmetrics = openmetrics
        self._openmetrics_type = openmetrics_type
        self.guard = guard or AccessGuard(name="metrics")
        self.tls = tls
        self._server: asyncio.Server | None = None
        self._acceptor: Acceptor | None = None

    async def start(self) -> str:
        host, _, port = self.address.rpartition(":")
        host = host.strip("[]")
        if self.tls is not None:
            from sidecar.transport.h2.tls import Acceptor  # the h2 transport's modules only when HTTPS is asked

            self._acceptor = Acceptor(self.tls, "metrics", self._protocol, HANDSHAKE_TIMEOUT, alpn=("http/1.1",))
            sock_port = await self._acceptor.start(host, int(port))
        else:
            self._server = await asyncio.start_server(self._handle, host, int(port))
            sock_port = self._server.sockets[0].getsockname()[1]
        self.bound = f"{self.address.rpartition(':')[0]}:{sock_port}"
        return self.bound

    def _protocol(self) -> asyncio.Protocol:
        """A stream protocol for one accepted (TLS) connection, handled like start_server's."""
        return asyncio.StreamReaderProtocol(asyncio.StreamReader(), self._handle)

    def _refusal(self, writer: asyncio.StreamWriter, head: bytes) -> tuple[str, bytes, str] | None:
        """(status, body, extra headers) when the scraper may not read, else None."""
        if self.tls is not None:
            from sidecar.transport.h2.tls import peer_uris

            problem = self.guard.uris_problem(peer_uris(writer))
            if problem is not None:
                log.warning("metrics refused: %s", problem)
                return "403 Forbidden", f"{problem}\n".encode(), ""
        problem = self.guard.bearer_problem(_header(head, b"authorization"))
        if problem is not None:
            log.warning("metrics refused: %s", problem)
            return "401 Unauthorized", f"{problem}\n".encode(), 'WWW-Authenticate: Bearer realm="apex metrics"\r\n'
        return None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10.0)
            if len(head) > MAX_HEADER_BYTES:
                raise ValueError("request head too large")
            method, path, *_ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            path = path.split("?", 1)[0]
            extra = ""
            refused = self._refusal(writer, head)
            if refused is not None:
                status, body, extra = refused
                ctype = "text/plain"
            elif method not in ("GET", "HEAD"):
                status, body, ctype = "405 Method Not Allowed", b"only GET\n", "text/plain"
            elif path == "/metrics" and self._openmetrics is not None and _accepts_openmetrics(head):
                status, body, ctype = "200 OK", self._openmetrics().encode(), self._openmetrics_type
            elif path == "/metrics":
                status, body, ctype = "200 OK", self._render().encode(), self._content_type
            else:
                status, body, ctype = "404 Not Found", b"try /metrics\n", "text/plain"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n{extra}"
                f"Connection: close\r\n\r\n".encode()
            )
            if method != "HEAD":
                writer.write(body)
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError, ConnectionError):
            pass
        except Exception:
            log.exception("metrics request failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def stop(self) -> None:
        if self._acceptor is not None:
            await self._acceptor.stop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
