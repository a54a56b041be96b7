"""The Echo upstream of the benchmarks in its own process, able to say how many calls it served.

A spawned child runs the example Echo server (sidecar.examples.echo: same servicer, options and
uvloop as `python -m sidecar.examples.echo`) and answers "how many calls so far?" over a pipe, so a
benchmark can check that cache hits never reached the upstream and relayed calls did.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
from multiprocessing.connection import Connection


def _main(conn: Connection, name: str) -> None:
    import uvloop

    from sidecar.examples.echo import EchoService, start_server

    async def serve() -> None:
        service = EchoService(name)
        server, port = await start_server(service, "127.0.0.1:0")
        conn.send(port)
        loop = asyncio.get_running_loop()
        while await loop.run_in_executor(None, conn.recv) is not None:
            conn.send(service.calls)
        await server.stop(0)

    uvloop.run(serve())


class EchoProcess:
    """Start with `EchoProcess()`; `address`, `pid`, `calls()`, `close()`."""

    def __init__(self, name: str = "bench", timeout: float = 30.0) -> None:
        ctx = mp.get_context("spawn")  # no fork: grpc's threads do not survive it
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_main, args=(child, name), name=f"apex-bench-echo-{name}", daemon=True)
        self._proc.start()
        child.close()
        if not self._conn.poll(timeout):
            self.close()
            raise RuntimeError(f"Echo upstream did not start within {timeout}s")
        self.address = f"127.0.0.1:{self._conn.recv()}"

    @property
    def pid(self) -> int:
        assert self._proc.pid is not None
        return self._proc.pid

    def calls(self) -> int:
        """Calls the Echo servicer has begun so far (every method)."""
        self._conn.send("calls")
        count: int = self._conn.recv()
        return count

    def close(self) -> None:
        if self._proc.is_alive():
            with contextlib.suppress(OSError):
                self._conn.send(None)
            self._proc.join(10)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(10)
        self._conn.close()
