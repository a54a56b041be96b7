"""The scenario's open-loop load generator: worker processes sending Poisson arrivals at the `load:` rate.

Each worker draws its share of the arrivals (a Poisson process at rate(t) / workers, with its own
seed) and sends each call, to the sidecars in turn, at its intended time whether or not earlier
calls have finished (open loop: a stalled mesh shows as latency and errors, not as a lower send
rate). With a `cache:` the request names a key drawn from the zipf distribution, and the answer
carries the version the upstream served; the answer is **stale** when the key has been updated since
(timeline.Updates, shared with the upstreams through the scenario's seed).

Every second of the scenario's clock a worker reports a `Window`: calls offered in that second (by
intended start), and the outcomes of the calls that ended in it (OK, good = OK within the SLO,
errors, of which rejected by the sidecar's cap/limit (RESOURCE_EXHAUSTED) and deadline exceeded,
stale answers) with a latency histogram of every ended call except the rejected ones (as the
simulator counts them). Each call's deadline is the scenario's `slo.deadline` from its intended
start. Before it, `warmup` seconds of load at the initial rate open the connections and settle the
processes without being counted. The parent merges the workers' windows (`LoadGenerator.windows()`),
in order, as they arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, cast

import grpc
import numpy as np
from apex.mesh.contract.histogram import Histogram
from apex.mesh.v1 import echo_pb2

from benchmarks.procpool import Pool
from benchmarks.scenario_run.timeline import Updates, scaled, zipf_shares
from engines.tune.scenario import load

METHOD = "/apex.mesh.v1.Echo/Unary"
CHANNEL_OPTIONS = (("grpc.enable_retries", 0),)
REPORT_LAG = 0.05  # seconds after a window closes before it is reported (calls ending right at the edge)


@dataclass
class Window:
    second: int
    offered: int = 0
    ok: int = 0
    good: int = 0
    errors: int = 0
    rejected: int = 0
    timeouts: int = 0
    stale: int = 0
    send_lag: float = 0.0  # the latest a call of this second was sent after its intended time (machine noise)
    histogram: Histogram = field(default_factory=Histogram)

    def merge(self, other: Window) -> Window:
        self.offered += other.offered
        self.ok += other.ok
        self.good += other.good
        self.errors += other.errors
        self.rejected += other.rejected
        self.timeouts += other.timeouts
        self.stale += other.stale
        self.send_lag = max(self.send_lag, other.send_lag)
        self.histogram.merge(other.histogram)
        return self


@dataclass(frozen=True)
class Plan:
    addresses: tuple[str, ...]  # the sidecars: calls go to each in turn
    scenario: str  # the scenario file
    time_scale: float
    rate_scale: float
    worker: int
    workers: int
    seed: int
    t0: float  # time.monotonic() (system-wide) of the scenario's second 0
    warmup: float = 0.0  # seconds before t0 of load at the initial rate, not counted (connections, caches)


class _Worker:
    def __init__(self, plan: Plan, conn: Connection) -> None:
        self.plan = plan
        self.conn = conn
        self.sc = scaled(load(plan.scenario), plan.time_scale, plan.rate_scale)
        self.rng = np.random.default_rng([self.sc.seed, plan.seed, plan.worker])
        self.windows: dict[int, Window] = {}
        cache = self.sc.cache
        self.updates = Updates(cache, self.sc.duration + 60.0, self.sc.seed) if cache is not None else None
        self.cdf = np.cumsum(zipf_shares(cache.keys, cache.zipf)) if cache is not None else None
        self.requests: dict[int, bytes] = {}
        self.plain: bytes = echo_pb2.EchoRequest().SerializeToString()
        self.tasks: set[asyncio.Task[None]] = set()

    def window(self, second: int) -> Window:
        w = self.windows.get(second)
        if w is None:
            w = self.windows[second] = Window(second)
        return w

    def request(self, key: int) -> bytes:
        if key < 0:
            return self.plain
        r: bytes | None = self.requests.get(key)
        if r is None:
            r = echo_pb2.EchoRequest(payload=str(key).encode()).SerializeToString()
            self.requests[key] = r
        return r

    async def call(self, unary: Any, intended: float, key: int) -> None:
        """One call: count it offered in its intended second, its outcome in the second it ends."""
        t0, slo = self.plan.t0, self.sc.slo
        if intended < t0:  # warm-up: sent, not counted
            with contextlib.suppress(Exception):
                await unary(self.request(key), timeout=slo.deadline)
            return
        w = self.window(int(intended - t0))
        w.offered += 1
        w.send_lag = max(w.send_lag, time.monotonic() - intended)
        code = grpc.StatusCode.OK
        reply = b""
        try:
            reply = await unary(self.request(key), timeout=max(slo.deadline - (time.monotonic() - intended), 0.001))
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
        except Exception:  # not a status (the channel refused the call): an error all the same
            code = grpc.StatusCode.UNKNOWN
        done = time.monotonic()
        latency = done - intended
        w = self.window(int(done - t0))
        if code is grpc.StatusCode.OK:
            w.ok += 1
            if latency <= slo.latency:
                w.good += 1
            if self.updates is not None and key >= 0:
                served = int(echo_pb2.EchoResponse.FromString(reply).payload or b"0")
                if served < self.updates.version(key, done - t0):
                    w.stale += 1
        else:
            w.errors += 1
            if code is grpc.StatusCode.RESOURCE_EXHAUSTED:
                w.rejected += 1
                return
            if code is grpc.StatusCode.DEADLINE_EXCEEDED:
                w.timeouts += 1
        w.histogram.record(latency)

    async def report(self) -> None:
        last = math.ceil(self.sc.duration + self.sc.slo.deadline) + 1
        for k in range(last):
            delay = self.plan.t0 + k + 1 + REPORT_LAG - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self.conn.send(("window", self.windows.pop(k, Window(k))))

    async def run(self) -> None:
        plan, sc = self.plan, self.sc
        channels = [grpc.aio.insecure_channel(a, options=CHANNEL_OPTIONS) for a in plan.addresses]
        stubs = [c.unary_unary(METHOD) for c in channels]
        sent = 0
        reporter = asyncio.create_task(self.report())
        t = -plan.warmup
        behind = 0
        uniform: Iterator[float] = iter(())  # batches of uniforms for the zipf key draws
        while True:
            rate = sc.rate_at(max(t, 0.0)) / plan.workers
            if rate <= 0:
                t += 0.01
                if t >= sc.duration:
                    break
                continue
            t += float(self.rng.exponential(1.0 / rate))
            if t >= sc.duration:
                break
            intended = plan.t0 + t
            delay = intended - time.monotonic()
            behind += 1
            if delay > 0.001 or behind >= 64:  # behind schedule: still let the calls run now and then
                await asyncio.sleep(max(delay, 0.0))
                behind = 0
            key = -1
            if self.cdf is not None:
                u = next(uniform, None)
                if u is None:
                    uniform = iter(self.rng.random(4096).tolist())
                    u = next(uniform)
                key = min(int(np.searchsorted(self.cdf, u)), self.cdf.size - 1)
            task = asyncio.create_task(self.call(stubs[sent % len(stubs)], intended, key))
            sent += 1
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        await reporter
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=1.0)
        for channel in channels:
            await channel.close()
        self.conn.send(("end", None))


async def _serve(conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    while (plan := await loop.run_in_executor(None, conn.recv)) is not None:  # one run per plan; None ends it
        await _Worker(plan, conn).run()


def _main(conn: Connection) -> None:
    import uvloop

    uvloop.run(_serve(conn))


class LoadGenerator:
    """`LoadGenerator(workers)`; per run `start(...)` then iterate `windows()`; `close()` at the end."""

    def __init__(self, workers: int) -> None:
        self._pool = Pool(_main, workers, "apex-scenario-load")
        self.conns = self._pool.conns

    @property
    def pids(self) -> list[int]:
        return self._pool.pids

    def start(self, addresses: list[str], scenario: str, time_scale: float, rate_scale: float, seed: int,
              t0: float, warmup: float = 0.0) -> None:  # fmt: skip
        n = len(self.conns)
        for i, conn in enumerate(self.conns):
            conn.send(Plan(tuple(addresses), scenario, time_scale, rate_scale, i, n, seed, t0, warmup))

    def windows(self, timeout: float = 30.0) -> Iterator[Window]:
        """Merged windows in order of their second, each once every worker has reported it."""
        pending: dict[int, list[Window]] = {}
        ended = 0
        next_second = 0
        n = len(self.conns)
        while ended < n:
            ready = wait(self.conns, timeout)
            if not ready:
                raise RuntimeError(f"the load generator sent nothing for {timeout:g}s")
            for ready_conn in ready:
                conn = cast(Connection, ready_conn)
                try:
                    kind, value = conn.recv()
                except (EOFError, OSError):
                    raise RuntimeError("a load generator worker died") from None
                if kind == "end":
                    ended += 1
                    continue
                window = cast(Window, value)
                pending.setdefault(window.second, []).append(window)
            while len(pending.get(next_second, ())) == n:
                parts = pending.pop(next_second)
                merged = parts[0]
                for w in parts[1:]:
                    merged.merge(w)
                yield merged
                next_second += 1

    def close(self) -> None:
        self._pool.close()
