"""The load generator: worker processes driving open-loop (fixed rate) or closed-loop (fixed concurrency) calls.

Open loop: call k is *intended* to start at start + phase + k / rate whether or not earlier calls have
finished, and its latency is measured from that intended time — a stalled target therefore shows up as
latency, not as a quietly lower send rate (no coordinated omission, as in wrk2). Closed loop: each of
`concurrency` loops sends its next call when the previous one finishes (throughput at saturation).

Each worker is a separate process with its own event loop and gRPC channel, so the generator spreads
over cores; the parent merges the workers' histograms. Requests are pre-serialized bytes and responses
are not decoded, to keep the client's own cost per call low.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import grpc

from benchmarks.hist import Histogram
from benchmarks.procpool import Pool

CHANNEL_OPTIONS = (
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
    ("grpc.enable_retries", 0),
)
MAX_OUTSTANDING = 20_000  # open loop: beyond this many calls in flight the generator counts drops instead


@dataclass(frozen=True)
class Job:
    """One worker's share of one run."""

    address: str
    kind: str  # "unary" | "server_stream" | "bidi"
    method: str  # "/apex.mesh.v1.Echo/Unary"
    request: bytes
    mode: str  # "open" | "closed"
    rate: float = 0.0  # open loop: this worker's calls/s
    phase: float = 0.0  # open loop: offset of this worker's first call (interleaves the workers)
    concurrency: int = 0  # closed loop: this worker's loops
    start_at: float = 0.0  # time.monotonic() value (system-wide clock) when sending starts
    warmup: float = 0.5
    duration: float = 2.0
    timeout: float = 5.0  # per call; open loop: a call this late counts as DEADLINE_EXCEEDED


@dataclass
class Outcome:
    """What a worker measured: latencies of calls (or stream messages) in the window, and counts."""

    histogram: Histogram = field(default_factory=Histogram)
    completed: int = 0  # calls (unary) or messages (streams) completed inside the measured window
    all_completed: int = 0  # including warm-up and drain: what the proxies' CPU time is divided by
    errors: Counter[str] = field(default_factory=Counter)
    dropped: int = 0
    worker_cpu_s: float = 0.0
    send_lag_max_s: float = 0.0  # open loop: how late the generator sent a call (machine noise, not the target)

    def merge(self, other: Outcome) -> Outcome:
        self.histogram.merge(other.histogram)
        self.completed += other.completed
        self.all_completed += other.all_completed
        self.errors.update(other.errors)
        self.dropped += other.dropped
        self.worker_cpu_s += other.worker_cpu_s
        self.send_lag_max_s = max(self.send_lag_max_s, other.send_lag_max_s)
        return self


class _Runner:
    def __init__(self, channel: Any, job: Job) -> None:
        self.job = job
        self.out = Outcome()
        self.measure_from = job.start_at + job.warmup
        self.end = self.measure_from + job.duration
        if job.kind == "unary":
            self.unary = channel.unary_unary(job.method)
        elif job.kind == "server_stream":
            self.stream = channel.unary_stream(job.method)
        else:
            self.bidi = channel.stream_stream(job.method)

    def _error(self, exc: BaseException) -> None:
        code = getattr(exc, "code", None)
        self.out.errors[code().name if callable(code) else type(exc).__name__] += 1

    def _failed(self, exc: BaseException, started: float) -> None:
        """Count the error and keep the wait in the percentiles: the caller waited this long for its
        answer, even if the answer was an error. Otherwise a target that fails fast (or an overloaded
        one whose queued calls time out) looks fast by dropping its failed calls; open and closed
        loop alike. The error count is reported next to the percentiles."""
        self._error(exc)
        self._record(started, time.monotonic())

    def _record(self, started: float, now: float) -> None:
        if self.measure_from <= started < self.end:
            self.out.histogram.record((now - started) * 1e6)

    def _done(self, started: float, now: float, messages: int = 1) -> None:
        self.out.all_completed += messages
        self._record(started, now)
        if self.measure_from <= now < self.end:
            self.out.completed += messages

    async def _one_unary(self, intended: float) -> None:
        try:
            await self.unary(self.job.request, timeout=self.job.timeout)
        except Exception as exc:
            self._failed(exc, intended)
            return
        self._done(intended, time.monotonic())

    async def open_loop(self) -> None:
        job = self.job
        interval = 1.0 / job.rate
        first = job.start_at + job.phase
        pending: set[asyncio.Task[None]] = set()
        k = 0
        while True:
            intended = first + k * interval
            if intended >= self.end:
                break
            delay = intended - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            # send every call whose intended time has come (timers are ~1 ms coarse)
            now = time.monotonic()
            if intended >= self.measure_from:
                self.out.send_lag_max_s = max(self.out.send_lag_max_s, now - intended)
            while intended <= now and intended < self.end:
                if len(pending) >= MAX_OUTSTANDING:
                    self.out.dropped += 1
                else:
                    task = asyncio.create_task(self._one_unary(intended))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                k += 1
                intended = first + k * interval
        if pending:
            await asyncio.wait(pending, timeout=job.timeout + 1)

    async def _closed_unary(self) -> None:
        while True:
            started = time.monotonic()
            if started >= self.end:
                return
            try:
                await self.unary(self.job.request, timeout=self.job.timeout)
            except Exception as exc:
                self._failed(exc, started)
                continue
            self._done(started, time.monotonic())

    async def _closed_server_stream(self) -> None:
        while True:
            started = time.monotonic()
            if started >= self.end:
                return
            messages = 0
            try:
                async for _ in self.stream(self.job.request, timeout=self.job.timeout):
                    messages += 1
            except Exception as exc:
                self._failed(exc, started)
                continue
            self._done(started, time.monotonic(), messages)

    async def _closed_bidi(self) -> None:
        """One long-lived stream per loop; each write→read round trip is one measured message."""
        while time.monotonic() < self.end:
            call = self.bidi(timeout=self.job.duration + self.job.warmup + self.job.timeout)
            started = time.monotonic()
            try:
                while True:
                    started = time.monotonic()
                    if started >= self.end:
                        break
                    await call.write(self.job.request)
                    await call.read()
                    self._done(started, time.monotonic())
                await call.done_writing()
                while await call.read() is not grpc.aio.EOF:
                    pass
            except Exception as exc:
                self._failed(exc, started)
                call.cancel()

    async def run(self) -> Outcome:
        job = self.job
        delay = job.start_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        cpu = time.process_time()
        if job.mode == "open":
            await self.open_loop()
        else:
            loop = {"unary": self._closed_unary, "server_stream": self._closed_server_stream, "bidi": self._closed_bidi}
            await asyncio.gather(*(loop[job.kind]() for _ in range(job.concurrency)))
        self.out.worker_cpu_s = time.process_time() - cpu
        return self.out


async def _probe(channel: Any, method: str, request: bytes, timeout: float) -> str:
    """Call until one call succeeds (the target is up); '' on success, else the last error."""
    call = channel.unary_unary(method)
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            await call(request, timeout=2.0)
            return ""
        except Exception as exc:
            details = getattr(exc, "details", None)
            last = str(details() if callable(details) else exc)
            await asyncio.sleep(0.1)
    return last or "timed out"


async def _serve(conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    channels: dict[str, Any] = {}

    def channel(address: str) -> Any:
        if address not in channels:
            channels[address] = grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
        return channels[address]

    while True:
        message = await loop.run_in_executor(None, conn.recv)
        if message is None:
            break
        op, payload = message
        try:
            if op == "probe":
                address, method, request, timeout = payload
                conn.send(("ok", await _probe(channel(address), method, request, timeout)))
            elif op == "run":
                conn.send(("ok", await _Runner(channel(payload.address), payload).run()))
            elif op == "forget":
                old = channels.pop(payload, None)
                if old is not None:
                    await old.close()
                conn.send(("ok", None))
        except Exception as exc:  # report, keep serving
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
    for ch in channels.values():
        await ch.close()


def _worker_main(conn: Connection) -> None:
    import uvloop

    uvloop.run(_serve(conn))


class Workers:
    """A pool of generator processes that stays up for a whole suite (channels stay warm per target)."""

    def __init__(self, count: int) -> None:
        self._pool = Pool(_worker_main, count, "apex-bench-worker")
        self._conns = self._pool.conns

    @property
    def count(self) -> int:
        return len(self._conns)

    @property
    def pids(self) -> list[int]:
        return self._pool.pids

    def _ask(self, conns: list[Connection], messages: list[Any]) -> list[Any]:
        for conn, message in zip(conns, messages, strict=True):
            conn.send(message)
        results = []
        for conn in conns:
            status, value = conn.recv()
            if status != "ok":
                raise RuntimeError(f"load worker failed: {value}")
            results.append(value)
        return results

    def probe(self, address: str, method: str, request: bytes, timeout: float = 15.0) -> str:
        """'' when every worker completed a call to `address`, else the error text."""
        answers = self._ask(self._conns, [("probe", (address, method, request, timeout))] * self.count)
        return next((a for a in answers if a), "")

    def forget(self, address: str) -> None:
        self._ask(self._conns, [("forget", address)] * self.count)

    def run(self, jobs: list[Job]) -> Outcome:
        """Run one job per worker (fewer jobs use fewer workers) and merge what they measured."""
        outcomes = self._ask(self._conns[: len(jobs)], [("run", job) for job in jobs])
        return _merge(outcomes)

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _merge(outcomes: list[Outcome]) -> Outcome:
    total = Outcome()
    for outcome in outcomes:
        total.merge(outcome)
    return total


def split(job: Job, workers: int) -> list[Job]:
    """Share one run between workers: the rate divided with interleaved phases, or the loops divided."""
    from dataclasses import replace

    if job.mode == "open":
        n = max(1, workers)
        return [replace(job, rate=job.rate / n, phase=i / job.rate) for i in range(n)]
    n = max(1, min(workers, job.concurrency))
    shares = [job.concurrency // n + (1 if i < job.concurrency % n else 0) for i in range(n)]
    return [replace(job, concurrency=c) for c in shares]
