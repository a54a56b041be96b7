"""A tiny asyncio HTTP/1.1 server answering GET /metrics (Prometheus text, or OpenMetrics when asked)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 16 * 1024


def _accepts_openmetrics(head: bytes) -> bool:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"accept" and b"application/openmetrics-text" in value.lower():
            return True
    return False


class MetricsServer:
    """Serves `render()` at /metrics; one short request per connection (Connection: close).

    A scraper whose Accept header names `application/openmetrics-text` gets `openmetrics()` (with
    exemplars) as `openmetrics_type` instead, when given.
    """

    def __init__(
        self,
        address: str,
        render: Callable[[], str],
        content_type: str,
        openmetrics: Callable[[], str] | None = None,
        openmetrics_type: str = "",
    ) -> None:
        self.address = address
        self.bound = ""
        self._render = render
        self._content_type = content_type
        self._openmetrics = openmetrics
        self._openmetrics_type = openmetrics_type
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        host, _, port = self.address.rpartition(":")
        host = host.strip("[]")
        self._server = await asyncio.start_server(self._handle, host, int(port))
        sock_port = self._server.sockets[0].getsockname()[1]
        self.bound = f"{self.address.rpartition(':')[0]}:{sock_port}"
        return self.bound

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10.0)
            if len(head) > MAX_HEADER_BYTES:
                raise ValueError("request head too large")
            method, path, *_ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            path = path.split("?", 1)[0]
            if method not in ("GET", "HEAD"):
                status, body, ctype = "405 Method Not Allowed", b"only GET\n", "text/plain"
            elif path == "/metrics" and self._openmetrics is not None and _accepts_openmetrics(head):
                status, body, ctype = "200 OK", self._openmetrics().encode(), self._openmetrics_type
            elif path == "/metrics":
                status, body, ctype = "200 OK", self._render().encode(), self._content_type
            else:
                status, body, ctype = "404 Not Found", b"try /metrics\n", "text/plain"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
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
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
