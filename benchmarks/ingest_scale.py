"""Scale-out of telemetry ingestion: windows/s one engine process ingests, and two in one consumer group.

An "engine process" here is the engines' ingest path as the forecaster runs it: a StreamConsumer in
a consumer group over `apex:telemetry:*` decoding every window through the shared contract (its
latency histograms included), merging each service's latency histogram, and acknowledging.
Windows are real TelemetryWindow entries (an inbound route with a latency histogram of 50 calls)
spread over services, so over the masters of a Redis Cluster by their `{service}` hash tags.

    make bench-ingest                                    # = python -m benchmarks.ingest_scale
    python -m benchmarks.ingest_scale --windows 20000 --services 12 [--single]

Each run fills the streams, then starts the processes together (each waits for a go file) and
times from the go signal to the last acknowledgement; every window must be ingested exactly once
across the processes (checked by (instance, sequence)). Results are printed as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from apex.mesh.bus.connect import connect
from apex.mesh.contract import histogram
from apex.mesh.contract.streams import WINDOW_FIELD, telemetry_key
from apex.mesh.v1 import telemetry_pb2

from engines.ingest.consumer import StreamConsumer
from engines.ingest.latency import window_histogram
from engines.ingest.telemetry import TELEMETRY_PATTERN, decode_window


def make_window(service: str, instance: str, sequence: int, rng: random.Random) -> bytes:
    w = telemetry_pb2.TelemetryWindow(service=service, instance=instance, sequence=sequence)
    w.window_start.FromSeconds(1_700_000_000 + sequence)
    w.window.FromSeconds(1)
    route = w.routes.add(listener="inbound", route="local", cluster="local")
    route.stats.calls = 50
    h = histogram.Histogram()
    for _ in range(50):
        h.record(rng.lognormvariate(-6.0, 0.5))
    histogram.encode(h, route.stats.latency)
    data: bytes = w.SerializeToString()
    return data


async def fill(url: str, services: int, windows: int, seed: int = 1) -> list[str]:
    """`windows` windows over `services` services (two instances each); the services' names."""
    client: Any = connect(url)
    rng = random.Random(seed)
    names = [f"svc-{i:02d}" for i in range(services)]
    try:
        for name in names:
            await client.delete(telemetry_key(name))
        per = windows // services
        for name in names:
            async with client.pipeline(transaction=False) as pipe:  # one service: one slot
                for seq in range(per):
                    data = make_window(name, f"{name}-{seq % 2}", seq, rng)
                    pipe.xadd(telemetry_key(name), {WINDOW_FIELD: data})
                await pipe.execute()
    finally:
        await client.aclose()
    return names


async def ingest(
    url: str, group: str, consumer: str, go: Path | None, idle_reads: int = 3, count: int = 200, limit: int = 0
) -> dict[str, Any]:
    """Ingest until `idle_reads` reads in a row found nothing (or `limit` windows, if set); what and when."""
    client: Any = connect(url)
    reader = StreamConsumer(client, TELEMETRY_PATTERN, group, consumer, decode_window, count=count, block_ms=100)
    await reader.discover()
    if go is not None:
        Path(f"{go}.{consumer}.ready").touch()
        while not go.exists():
            await asyncio.sleep(0.005)
    started = time.time()
    cpu = time.process_time()
    merged: dict[str, histogram.Histogram] = {}
    seen: list[tuple[str, str, int]] = []
    last = started
    cpu_used = 0.0
    idle = 0
    try:
        while idle < idle_reads and not (limit and len(seen) >= limit):
            entries = await reader.read()
            if not entries:
                idle += 1
                continue
            idle = 0
            for entry in entries:
                w = entry.value
                merged.setdefault(w.service, histogram.Histogram()).merge(window_histogram(w))
                seen.append((w.service, w.instance, w.sequence))
            await reader.ack(entries)
            last = time.time()
            cpu_used = time.process_time() - cpu
    finally:
        await client.aclose()
    calls = sum(h.count for h in merged.values())
    return {"consumer": consumer, "started": started, "finished": last, "windows": len(seen), "calls": calls,
            "cpu_seconds": cpu_used, "seen": seen}  # fmt: skip


def run_processes(
    url: str, group: str, count: int, workdir: Path, read_count: int = 200, limit: int = 0
) -> list[dict[str, Any]]:
    """`count` engine processes in one group, started together; their results.

    `limit` stops a process once it has ingested that many windows (tests use it to make both take part
    whatever the scheduler does); `read_count` is the XREADGROUP COUNT.
    """
    go = workdir / f"{group}.go"
    procs = []
    for i in range(count):
        out = workdir / f"{group}.{i}.json"
        cmd = [sys.executable, "-m", "benchmarks.ingest_scale", "worker", "--redis", url, "--group", group,
               "--consumer", f"engine-{i}", "--go", str(go), "--out", str(out),
               "--count", str(read_count), "--limit", str(limit)]  # fmt: skip
        procs.append((subprocess.Popen(cmd), out))
    deadline = time.monotonic() + 60
    while sum(1 for i in range(count) if Path(f"{go}.engine-{i}.ready").exists()) < count:
        if time.monotonic() > deadline or any(p.poll() not in (None, 0) for p, _ in procs):
            for p, _ in procs:
                p.kill()
            raise RuntimeError("engine processes did not get ready")
        time.sleep(0.01)
    go.touch()
    results = []
    for proc, out in procs:
        if proc.wait(300) != 0:
            raise RuntimeError(f"engine process exited with {proc.returncode}")
        results.append(json.loads(out.read_text()))
    return results


def summarize(results: list[dict[str, Any]], expected: int, services: set[str]) -> dict[str, Any]:
    """Windows/s over the whole run; raises when a window of `services` was lost or ingested twice."""
    everyone = [tuple(s) for r in results for s in r["seen"] if s[0] in services]
    if len(everyone) != len(set(everyone)):
        raise AssertionError(f"{len(everyone) - len(set(everyone))} windows ingested twice")
    if len(everyone) != expected:
        raise AssertionError(f"ingested {len(everyone)} windows, expected {expected}")
    seconds = max(r["finished"] for r in results) - min(r["started"] for r in results)
    return {
        "processes": len(results),
        "windows": expected,
        "seconds": round(seconds, 3),
        "windows_per_second": round(expected / seconds, 1) if seconds > 0 else None,
        "per_process": [sum(1 for s in r["seen"] if s[0] in services) for r in results],
        # CPU the engine processes spent (user + system, to their last ack): independent of other load
        "windows_per_cpu_second": round(expected / cpu, 1) if (cpu := sum(r["cpu_seconds"] for r in results)) else None,
    }


def measure(url: str, services: int, windows: int, processes: tuple[int, ...] = (1, 2)) -> list[dict[str, Any]]:
    out = []
    with tempfile.TemporaryDirectory(prefix="apex-ingest-") as tmp:
        for n in processes:
            names = asyncio.run(fill(url, services, windows))
            expected = (windows // services) * services
            out.append(summarize(run_processes(url, f"bench-{n}", n, Path(tmp)), expected, set(names)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ingest_scale", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="mode")
    worker = sub.add_parser("worker", help="one engine process (started by the benchmark)")
    worker.add_argument("--redis", required=True)
    worker.add_argument("--group", required=True)
    worker.add_argument("--consumer", required=True)
    worker.add_argument("--go", type=Path)
    worker.add_argument("--out", type=Path, required=True)
    worker.add_argument("--count", type=int, default=200)
    worker.add_argument("--limit", type=int, default=0)
    parser.add_argument("--windows", type=int, default=20_000)
    parser.add_argument("--services", type=int, default=12)
    parser.add_argument("--single", action="store_true", help="one Redis instead of a three-master cluster")
    parser.add_argument("--redis", help="use this Redis URL (redis:// or redis+cluster://) instead of starting one")
    args = parser.parse_args(argv)
    if args.mode == "worker":
        result = asyncio.run(ingest(args.redis, args.group, args.consumer, args.go, count=args.count, limit=args.limit))
        args.out.write_text(json.dumps(result))
        return 0
    from sidecar.support.redis_cluster import RedisClusterServers
    from sidecar.support.redis_server import RedisServer

    server: Any = None
    url = args.redis
    if url is None:
        server = RedisServer().start() if args.single else RedisClusterServers().start()
        url = server.url
    try:
        started = time.time()
        results = measure(url, args.services, args.windows)
    finally:
        if server is not None:
            server.close()
    report = {"redis": "single" if args.single else ("cluster-3-masters" if args.redis is None else url),
              "services": args.services, "runs": results, "elapsed": round(time.time() - started, 1)}  # fmt: skip
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
