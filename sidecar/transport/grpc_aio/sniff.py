"""Permissive mTLS on one port: a TCP front that sends TLS connections to the listener's mTLS port
and the rest to its plaintext port (grpc serves one or the other per port, never both).

The first byte decides: a TLS record starts with 0x16 (handshake), an HTTP/2 connection preface
with 'P'. The cost is one extra hop on permissive listeners only (a migration mode); strict and
plaintext listeners are served by grpc directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger(__name__)

TLS_HANDSHAKE = 0x16


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class SniffingFront:
    """Accepts on `address`; relays each connection to `tls_port` or `plain_port` on loopback."""

    def __init__(self, address: str, tls_port: int, plain_port: int) -> None:
        self.address = address
        self._ports = {True: tls_port, False: plain_port}
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        host, _, port = self.address.rpartition(":")
        self._server = await asyncio.start_server(self._serve, host.strip("[]") or None, int(port))
        return int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            first = await reader.read(1)
            if not first:
                writer.close()
                return
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._ports[first[0] == TLS_HANDSHAKE])
            up_writer.write(first)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (ConnectionError, OSError) as exc:
            log.debug("permissive front: connection dropped: %s", exc)
            writer.close()
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
