"""Sidecar CPU per call with tracing off / 1% / 100% and telemetry publishing on / off.

Runs a real Echo server, a real Redis, an in-process OTLP receiver and one real sidecar process
per configuration, all at once. Calls go through each sidecar's outbound listener in batches,
cycling through the configurations in a shuffled order. Each sidecar's own CPU time (utime +
stime from /proc/<pid>/stat) is read over the whole cycle: from before the first batch until its
deferred work is done — the telemetry windows holding every call of the cycle are in Redis and
every span of the 100% tracing configuration has reached the OTLP receiver (window rolls and span
exports run after the calls, on timers and threads; reading CPU around a batch alone missed them).
Because the configurations take turns batch by batch, load from other processes on the machine
hits them alike; each cycle gives a paired ratio against the no-observability sidecar, and the
median ratio is reported.

    .venv/bin/python -m benchmarks.observability_bench [--cycles 24] [--batch 1500] [--concurrency 8]
    .venv/bin/python -m benchmarks.observability_bench --layers-only

`--layers-only` measures just the layers in process (no network, no sidecar process): CPU per
call of a route stack with and without the metrics and trace layers around a trivial inner
service — the per-call cost observability adds, free of the machine noise of the end-to-end run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import statistics
import sys
from dataclasses import dataclass, field
from typing import Any

import grpc
from apex.mesh.v1 import echo_pb2, echo_pb2_grpc

from benchmarks import procstat
from sidecar.examples.echo import BackgroundEcho
from sidecar.support.otlp_receiver import OtlpReceiver
from sidecar.support.redis_server import RedisServer
from sidecar.support.sidecar_proc import start_all
from tests.support.observed import route_calls, windows
from tests.support.sidecar_proc import SidecarProcess, proxy_config

BASELINE = "off (no observability)"
TELEMETRY = ("telemetry publishing", "telemetry + tracing 1%")  # their windows must be in Redis
TRACED_ALL = "tracing 100%"  # every one of its calls must have been exported as a span


def cpu_seconds(pid: int) -> float:
    """utime + stime of process `pid`, in seconds (benchmarks.procstat)."""
    found = procstat.usage(pid)
    if found is None:
        raise RuntimeError(f"sidecar {pid} is gone")
    return found.cpu_s


async def drive(stub: Any, calls: int, concurrency: int) -> None:
    request = echo_pb2.EchoRequest(payload=b"x" * 64)
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await stub.Unary(request, timeout=30)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def service_name(config: str) -> str:
    """Each configuration's own service name: its own telemetry stream and span resource."""
    return "bench-" + "".join(c if c.isalnum() else "-" for c in config.split(" (")[0]).strip("-")


def configs(echo: str, redis_url: str, otlp: str) -> dict[str, dict[str, Any]]:
    def tracing(percent: float) -> dict[str, Any]:
        return {"enabled": True, "sampling_percent": percent, "otlp_endpoint": otlp, "id_seed": 1}

    telemetry = {"redis_url": redis_url, "window": "1s"}
    names = {
        BASELINE: {},
        "metrics only (/metrics)": {"metrics": {"address": "127.0.0.1:0"}},
        "telemetry publishing": {"telemetry": telemetry},
        "tracing 1%": {"tracing": tracing(1.0)},
        TRACED_ALL: {"tracing": tracing(100.0)},
        "telemetry + tracing 1%": {"telemetry": telemetry, "tracing": tracing(1.0)},
    }
    return {name: {**proxy_config(echo, service=service_name(name)), **extra} for name, extra in names.items()}


@dataclass
class Cycles:
    per_call: dict[str, list[float]]  # µs of sidecar CPU per call, one value per cycle and configuration
    # per cycle, at the moment CPU was read: calls sent so far, calls in the Redis windows of the
    # telemetry configurations, spans received from the 100% tracing one
    flushed: list[dict[str, int]] = field(default_factory=list)


class Deferred:
    """What the sidecars' deferred work has delivered: calls in telemetry windows, exported spans."""

    def __init__(self, redis_url: str, otlp: OtlpReceiver) -> None:
        self.redis_url = redis_url
        self.otlp = otlp

    def delivered(self) -> dict[str, int]:
        found = {name: route_calls(windows(self.redis_url, service_name(name))) for name in TELEMETRY}
        found[TRACED_ALL] = sum(1 for s in self.otlp.snapshot() if s.service == service_name(TRACED_ALL))
        return found

    async def wait(self, sent: dict[str, int], timeout: float = 30.0) -> dict[str, int]:
        """Until every call sent so far is in its telemetry windows and its span exported."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            got = await asyncio.to_thread(self.delivered)
            if all(got[name] >= sent[name] for name in got):
                return got
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"deferred work not delivered in {timeout}s: sent {sent}, delivered {got}")
            await asyncio.sleep(0.1)


async def run_cycles(procs: dict[str, SidecarProcess], deferred: Deferred, args: argparse.Namespace) -> Cycles:
    """µs of sidecar CPU per call, one value per cycle and configuration, each read over the whole
    cycle up to the delivery of its deferred work."""
    rng = random.Random(args.seed)
    out = Cycles({name: [] for name in procs})
    sent = dict.fromkeys(procs, 0)
    channels = {name: grpc.aio.insecure_channel(p["outbound"]) for name, p in procs.items()}
    pids = {name: p.proc.pid for name, p in procs.items()}  # type: ignore[union-attr]
    try:
        stubs = {name: echo_pb2_grpc.EchoStub(ch) for name, ch in channels.items()}
        for name in procs:
            await drive(stubs[name], args.warmup, args.concurrency)
            sent[name] += args.warmup
        await deferred.wait(sent)
        for cycle in range(args.cycles):
            order = list(procs)
            rng.shuffle(order)
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            for name in order:
                await drive(stubs[name], args.batch, args.concurrency)
                sent[name] += args.batch
            await deferred.wait(sent)
            after = {name: cpu_seconds(pid) for name, pid in pids.items()}
            # evidence, read right after the CPU: what had been delivered by then
            out.flushed.append({**{f"sent:{k}": v for k, v in sent.items()}, **deferred.delivered()})
            for name in procs:
                out.per_call[name].append((after[name] - before[name]) / args.batch * 1e6)
            line = "  ".join(f"{n.split(' (')[0]}={out.per_call[n][-1]:.0f}" for n in procs)
            print(f"cycle {cycle + 1}: {line}", file=sys.stderr, flush=True)
    finally:
        for ch in channels.values():
            await ch.close()
    return out


async def _layer_cpu(layers: list[Any], calls: int) -> float:
    import time

    from sidecar.core.call import CallDescriptor, Code, Status
    from sidecar.core.service import BufferedResponse, Request, no_messages, stack

    ok = Status(Code.OK)

    async def inner(request: Any) -> Any:
        return BufferedResponse(ok, [b"x" * 64])

    service = stack(layers, inner)
    call = CallDescriptor("/apex.mesh.v1.Echo/Unary", "echo", (("x-a", "b"),), None, "outbound", "ipv4:10.0.0.1:5")
    started = time.process_time()
    for _ in range(calls):
        request = Request(call, no_messages())
        response = await service(request)
        while await response.read() is not None:
            pass
        request.finish(await response.status())
    return (time.process_time() - started) / calls * 1e6


def layer_costs(calls: int = 20000, repeats: int = 5) -> dict[str, float]:
    """µs of CPU per call for a route stack with each observability layer combination (min of repeats)."""
    import time

    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    from sidecar.layers import metrics, timeout, trace
    from sidecar.telemetry import tracing
    from sidecar.telemetry.registry import Registry
    from sidecar.telemetry.settings import Tracing

    class Discard(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    def tracer(percent: float) -> tracing.Tracing:
        settings = Tracing(enabled=True, sampling_percent=percent, max_queue_size=1 << 20, id_seed=1)
        return tracing.provider(settings, "bench", "bench-1", Discard())[2]

    registry = Registry(time.time)
    t1, t100 = tracer(1.0), tracer(100.0)

    # The metrics layer is always in a route's stack: counts only (calls, codes) unless measuring.
    def base() -> list[Any]:
        counts = Registry(time.time).route("outbound", "echo", "echo")
        return [metrics.Metrics(counts, detail=False), timeout.Deadline()]

    def measured() -> list[Any]:
        return [metrics.Metrics(registry.route("outbound", "echo", "echo")), timeout.Deadline()]

    cases = {
        BASELINE: base(),
        "metrics layer": measured(),
        "trace layer 1%": [trace.Trace(t1, False, "echo", "echo"), *base()],
        "trace layer 100%": [trace.Trace(t100, False, "echo", "echo"), *base()],
        "metrics + trace 1%": [trace.Trace(t1, False, "echo", "echo"), *measured()],
    }
    return {name: min(asyncio.run(_layer_cpu(layers, calls)) for _ in range(repeats)) for name, layers in cases.items()}


def end_to_end(args: argparse.Namespace) -> tuple[Cycles, int]:
    """Start everything, run the cycles, stop everything; the cycles and the spans received."""
    echo = BackgroundEcho("bench").start()
    redis = RedisServer().start()
    otlp = OtlpReceiver().start()
    procs = {name: SidecarProcess(config) for name, config in configs(echo.address, redis.url, otlp.address).items()}
    try:
        start_all(*procs.values())  # side by side: a sidecar's start-up is mostly imports
        cycles = asyncio.run(run_cycles(procs, Deferred(redis.url, otlp), args))
        return cycles, len(otlp.snapshot())
    finally:
        for proc in procs.values():
            proc.close()
        otlp.stop()
        redis.close()
        echo.close()


def cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=24)
    parser.add_argument("--batch", type=int, default=1500, help="calls per configuration per cycle")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1, help="seed for the per-cycle order")
    parser.add_argument("--layers-only", action="store_true", help="only the in-process layer costs")
    args = parser.parse_args()
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    if args.layers_only:
        costs = layer_costs()
        print("| route stack (in process) | CPU per call (µs, best of 5 x 20000) | added by observability (µs) |")
        print("| --- | ---: | ---: |")
        for name, us in costs.items():
            print(f"| {name} | {us:.2f} | {us - costs[BASELINE]:+.2f} |")
        return

    cycles, spans = end_to_end(args)
    per_call = cycles.per_call
    base = per_call[BASELINE]
    print(f"{args.cycles} cycles x {args.batch} unary calls per configuration (+{args.warmup} warm-up), "
          f"concurrency {args.concurrency}; spans received: {spans}; CPU read over each whole cycle "
          f"until its telemetry windows and spans were delivered")  # fmt: skip
    print()
    print("| configuration | sidecar CPU per call (µs, mean) | median paired ratio vs off | IQR of ratio |")
    print("| --- | ---: | ---: | --- |")
    for name, values in per_call.items():
        ratios = [v / b for v, b in zip(values, base, strict=True)]
        q = statistics.quantiles(ratios, n=4)
        print(f"| {name} | {statistics.fmean(values):.0f} | {100 * (statistics.median(ratios) - 1):+.1f}% "
              f"| {100 * (q[0] - 1):+.1f}% .. {100 * (q[2] - 1):+.1f}% |")  # fmt: skip


if __name__ == "__main__":
    main()
