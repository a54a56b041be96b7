"""Load-generator worker processes: spawned, each running `main(conn)` on its end of a pipe, stopped by a
None message (then by PID if it lingers). Used by the latency suite's Workers and the scenario runs'
LoadGenerator."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any


class Pool:
    def __init__(self, main: Callable[[Connection], None], count: int, name: str) -> None:
        ctx = mp.get_context("spawn")  # no fork: grpc's threads do not survive it
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        for i in range(count):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=main, args=(child,), name=f"{name}-{i}", daemon=True)
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.send(None)
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
        for conn in self.conns:
            conn.close()
