"""Response cache benchmark: latency and sidecar CPU per call for a hit, a miss and a direct call.

Runs a real Echo server (subprocess) and a real sidecar (subprocess) with two listeners: "cached"
(a cache rule on Echo/Unary) and "plain" (no rule: the pass-through baseline). Scenarios:
  direct  client → Echo server
  plain   client → sidecar (no cache layer) → Echo
  miss    client → sidecar → cache miss (every request distinct) → Echo, then stored
  hit     client → sidecar → answered from the cache (one request repeated)
Each runs with an upstream that answers at once (0 ms of work: the worst case for a cache) and
with one that works 10 ms per call, like a database-backed read (Echo's delay_ms). Sidecar CPU per call comes from
/proc/<pid>/stat (utime + stime) around each scenario.

    .venv/bin/python -m benchmarks.cache_bench [--calls 4000] [--concurrency 1,16] [--service-ms 0,10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

import grpc
import uvloop
from apex.mesh.v1 import echo_pb2

from tests.support.sidecar_proc import SidecarProcess

UNARY = "/apex.mesh.v1.Echo/Unary"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of process `pid` in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def start_echo() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sidecar.examples.echo", "--port", "0", "--name", "bench"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"port (\d+)", line)
    if not match:
        proc.kill()
        raise RuntimeError(f"echo server did not start: {line!r}")
    return proc, f"127.0.0.1:{match.group(1)}"


def sidecar_config(upstream: str, max_entries: int) -> dict[str, object]:
    table = [{"name": "echo", "cluster": "echo"}]
    return {
        "node": {"service": "bench"},
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


async def drive(target: str, requests: list[bytes], concurrency: int) -> tuple[list[float], float]:
    """Send `requests` with `concurrency` callers; return per-call latencies and wall time."""
    async with grpc.aio.insecure_channel(target) as channel:
        call = channel.unary_unary(UNARY)
        await call(requests[0], timeout=10)  # connect first
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
        return message.SerializeToString()

    if scenario == "miss":  # every request distinct: each one misses, then is stored
        return [request(b"miss-%d-%d" % (run, i)) for i in range(calls)]
    return [request(b"same")] * calls


async def scenario(
    name: str, target: str, pid: int | None, calls: int, concurrency: int, response_size: int, service_ms: int, run: int
) -> Result:
    warm = requests_for(name, min(300, calls), response_size, service_ms, run + 1000)
    await drive(target, warm, concurrency)  # warm-up (and, for "hit", fills the entry)
    requests = requests_for(name, calls, response_size, service_ms, run)
    cpu_before = cpu_seconds(pid) if pid else 0.0
    latencies, wall = await drive(target, requests, concurrency)
    cpu = (cpu_seconds(pid) - cpu_before) / calls * 1e6 if pid else None
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
    )


def machine() -> str:
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


async def main_async(args: argparse.Namespace) -> list[Result]:
    echo, upstream = start_echo()
    levels = [int(c) for c in args.concurrency.split(",")]
    service_times = [int(ms) for ms in args.service_ms.split(",")]
    runs = len(levels) * len(service_times)
    proc = SidecarProcess(sidecar_config(upstream, max_entries=(args.calls + 300) * (runs + 1)))
    try:
        proc.start()
        assert proc.proc is not None
        pid = proc.proc.pid
        targets = {"direct": (upstream, None), "plain": (proc["plain"], pid)}
        targets.update({"miss": (proc["cached"], pid), "hit": (proc["cached"], pid)})
        results = []
        run = 0
        for service_ms in service_times:
            for concurrency in levels:
                for name in ("direct", "plain", "miss", "hit"):
                    target, watched = targets[name]
                    run += 1
                    result = await scenario(
                        name, target, watched, args.calls, concurrency, args.response_size, service_ms, run
                    )
                    results.append(result)
                    print(format_row(result), flush=True)
        return results
    finally:
        proc.close()
        echo.kill()
        echo.wait()


HEADER = (
    f"{'scenario':<8} {'work':>5} {'conc':>4} {'calls':>6} {'p50 ms':>8} {'p99 ms':>8} {'calls/s':>8}"
    f" {'sidecar CPU us/call':>20}"
)


def format_row(r: Result) -> str:
    cpu = "-" if r.cpu_us is None else f"{r.cpu_us:.0f}"
    head = f"{r.scenario:<8} {r.service_ms:>3}ms {r.concurrency:>4} {r.calls:>6}"
    return f"{head} {r.p50_ms:>8.3f} {r.p99_ms:>8.3f} {r.rate:>8.0f} {cpu:>20}"


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


def main() -> None:
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


if __name__ == "__main__":
    main()
