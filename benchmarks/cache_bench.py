"""Response cache benchmark: latency and sidecar CPU per call for a hit, a miss and a direct call.

Runs a real Echo server (subprocess) and a real sidecar (subprocess) with two listeners: "cached"
(a cache rule on Echo/Unary) and "plain" (no rule: the pass-through baseline). Scenarios:
  direct  client → Echo server
  plain   client → sidecar (no cache layer) → Echo
  miss    client → sidecar → cache miss (every request distinct) → Echo, then stored
  hit     client → sidecar → answered from the cache (one request repeated)
Each runs with an upstream that answers at once (0 ms of work: the worst case for a cache) and
with one that works 10 ms per call, like a database-backed read (Echo's delay_ms). Sidecar CPU per call comes from
/proc/<pid>/stat (utime + stime, benchmarks.procstat) around each scenario. Each scenario is checked
for what it claims from two counters: the sidecar's CacheAdmin hits/misses and the Echo upstream's
own call count (a hit must not reach the upstream; a miss and a plain call must, once each); the run
exits 1 and names the scenario when they disagree.

    .venv/bin/python -m benchmarks.cache_bench [--calls 4000] [--concurrency 1,16] [--service-ms 0,10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

import grpc
import uvloop
from apex.mesh.v1 import echo_pb2

from benchmarks import procstat
from benchmarks.echo_proc import EchoProcess
from benchmarks.targets import cache_counts
from sidecar.support.sidecar_proc import SidecarProcess

UNARY = "/apex.mesh.v1.Echo/Unary"


def sidecar_config(upstream: str, max_entries: int) -> dict[str, object]:
    table = [{"name": "echo", "cluster": "echo"}]
    return {
        "node": {"service": "bench"},
        "admin": {"address": "127.0.0.1:0"},
        "listeners": [
            {"name": "cached", "address": "127.0.0.1:0", "direction": "OUTBOUND"},
            {"name": "plain", "address": "127.0.0.1:0", "direction": "OUTBOUND"},
        ],
        "cache": {"max_entries": max_entries, "max_bytes": 512 * 1024 * 1024},
        "policy": {
            "route_tables": [{"name": "cached", "routes": table}, {"name": "plain", "routes": table}],
            "clusters": [{"name": "echo", "endpoints": [{"address": upstream}]}],
            "cache": [{"method": UNARY, "ttl": "1h", "listeners": ["cached"]}],
        },
    }


@dataclass
class Result:
    scenario: str
    service_ms: int
    concurrency: int
    calls: int
    p50_ms: float
    p99_ms: float
    rate: float
    cpu_us: float | None  # sidecar CPU per call; None for direct calls
    hits: int  # CacheAdmin hits over the measured calls
    misses: int
    upstream_calls: int  # the Echo upstream's own count over the measured calls


async def drive(call: Any, requests: list[bytes], concurrency: int) -> tuple[list[float], float]:
    """Send `requests` with `concurrency` callers on one multicallable; return per-call latencies and wall time."""
    latencies: list[float] = []
    position = 0

    async def worker() -> None:
        nonlocal position
        while position < len(requests):
            request = requests[position]
            position += 1
            began = time.perf_counter()
            await call(request, timeout=10)
            latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - began


def requests_for(scenario: str, calls: int, response_size: int, service_ms: int, run: int) -> list[bytes]:
    def request(payload: bytes) -> bytes:
        message = echo_pb2.EchoRequest(payload=payload, response_size=response_size, delay_ms=service_ms)
        data: bytes = message.SerializeToString()
        return data

    if scenario == "miss":  # every request distinct: each one misses, then is stored
        return [request(b"miss-%d-%d" % (run, i)) for i in range(calls)]
    return [request(b"same")] * calls


class Counters:
    """What the sidecar's cache and the upstream counted: read before and after a scenario."""

    def __init__(self, admin: str, upstream: EchoProcess) -> None:
        self.admin = admin
        self.upstream = upstream

    def read(self) -> tuple[int, int, int]:
        cache = cache_counts(self.admin)
        return cache["hits"], cache["misses"], self.upstream.calls()


async def scenario(
    name: str,
    target: str,
    pid: int | None,
    counters: Counters,
    calls: int,
    concurrency: int,
    response_size: int,
    service_ms: int,
    run: int,
) -> Result:
    warm = requests_for(name, min(300, calls), response_size, service_ms, run + 1000)
    requests = requests_for(name, calls, response_size, service_ms, run)
    async with grpc.aio.insecure_channel(target) as channel:
        call = channel.unary_unary(UNARY)
        await drive(call, warm, concurrency)  # connects; warm-up (and, for "hit", fills the entry)
        hits, misses, served = counters.read()
        cpu_before = cpu_seconds(pid) if pid else 0.0
        latencies, wall = await drive(call, requests, concurrency)
        cpu = (cpu_seconds(pid) - cpu_before) / calls * 1e6 if pid else None
        hits_after, misses_after, served_after = counters.read()
    latencies.sort()
    return Result(
        scenario=name,
        service_ms=service_ms,
        concurrency=concurrency,
        calls=calls,
        p50_ms=statistics.median(latencies) * 1e3,
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1e3,
        rate=calls / wall,
        cpu_us=cpu,
        hits=hits_after - hits,
        misses=misses_after - misses,
        upstream_calls=served_after - served,
    )


def cpu_seconds(pid: int) -> float:
    found = procstat.usage(pid)
    if found is None:
        raise RuntimeError(f"process {pid} is gone")
    return found.cpu_s


# (hits, misses, upstream calls) each scenario must show, per measured call
EXPECTED = {"direct": (0, 0, 1), "plain": (0, 0, 1), "miss": (0, 1, 1), "hit": (1, 0, 0)}


def problems(results: list[Result]) -> list[str]:
    """Scenarios whose counters contradict their name (a "hit" that reached the upstream, ...)."""
    found = []
    for r in results:
        want = tuple(n * r.calls for n in EXPECTED[r.scenario])
        got = (r.hits, r.misses, r.upstream_calls)
        if got != want:
            found.append(
                f"{r.scenario} ({r.service_ms} ms, c={r.concurrency}): hits, misses, upstream calls = {got}, "
                f"expected {want} for {r.calls} calls"
            )
    return found


def machine() -> str:
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


async def main_async(args: argparse.Namespace) -> list[Result]:
    echo = EchoProcess("bench")
    levels = [int(c) for c in args.concurrency.split(",")]
    service_times = [int(ms) for ms in args.service_ms.split(",")]
    runs = len(levels) * len(service_times)
    proc = SidecarProcess(sidecar_config(echo.address, max_entries=(args.calls + 300) * (runs + 1)))
    try:
        proc.start()
        assert proc.proc is not None
        pid = proc.proc.pid
        counters = Counters(proc["admin"], echo)
        targets = {"direct": (echo.address, None), "plain": (proc["plain"], pid)}
        targets.update({"miss": (proc["cached"], pid), "hit": (proc["cached"], pid)})
        results = []
        run = 0
        for service_ms in service_times:
            for concurrency in levels:
                for name in ("direct", "plain", "miss", "hit"):
                    target, watched = targets[name]
                    run += 1
                    result = await scenario(
                        name, target, watched, counters, args.calls, concurrency, args.response_size, service_ms, run
                    )
                    results.append(result)
                    print(format_row(result), flush=True)
        return results
    finally:
        proc.close()
        echo.close()


HEADER = (
    f"{'scenario':<8} {'work':>5} {'conc':>4} {'calls':>6} {'p50 ms':>8} {'p99 ms':>8} {'calls/s':>8}"
    f" {'sidecar CPU us/call':>20} {'hits':>6} {'misses':>6} {'upstream':>8}"
)


def format_row(r: Result) -> str:
    cpu = "-" if r.cpu_us is None else f"{r.cpu_us:.0f}"
    head = f"{r.scenario:<8} {r.service_ms:>3}ms {r.concurrency:>4} {r.calls:>6}"
    counts = f"{r.hits:>6} {r.misses:>6} {r.upstream_calls:>8}"
    return f"{head} {r.p50_ms:>8.3f} {r.p99_ms:>8.3f} {r.rate:>8.0f} {cpu:>20} {counts}"


def summary(results: list[Result]) -> list[str]:
    lines = []
    for service_ms, concurrency in sorted({(r.service_ms, r.concurrency) for r in results}):
        by = {r.scenario: r for r in results if (r.service_ms, r.concurrency) == (service_ms, concurrency)}
        hit, miss, direct = by["hit"], by["miss"], by["direct"]
        cpu = f"{miss.cpu_us / hit.cpu_us:.1f}x" if hit.cpu_us and miss.cpu_us else "n/a"
        lines.append(
            f"work {service_ms} ms, concurrency {concurrency}: hit p50 is {direct.p50_ms / hit.p50_ms:.2f}x "
            f"direct's speed and {miss.p50_ms / hit.p50_ms:.2f}x a miss's; sidecar CPU miss/hit = {cpu}"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=4000, help="measured calls per scenario (default 4000)")
    parser.add_argument("--concurrency", default="1,16", help="comma-separated caller counts (default 1,16)")
    parser.add_argument("--service-ms", default="0,10", help="upstream work per call in ms (default 0,10)")
    parser.add_argument("--response-size", type=int, default=1024, help="response payload bytes (default 1024)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(HEADER)
    results = uvloop.run(main_async(args))
    for line in summary(results):
        print(line)
    found = problems(results)
    for problem in found:
        print(f"cache_bench: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
