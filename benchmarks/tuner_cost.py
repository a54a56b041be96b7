"""What the tuning engine costs: CPU per telemetry window and per decision, for S services x I instances.

A real Redis and a real control plane (subprocesses); the engine (`engines.tune.runner.Runner`) runs
in this process on a driven clock, fed windows written as sidecars write them, in shadow mode (its
decisions are recorded, not pushed: a push's cost is the control plane's). Prints the engine
process's CPU seconds per 1000 windows and per decision, and windows per CPU second.

    .venv/bin/python -m benchmarks.tuner_cost [--services 20] [--instances 4] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import redis
from apex.mesh.contract import histogram
from apex.mesh.contract import tune as keys
from apex.mesh.v1 import config_pb2, telemetry_pb2

from engines.control.admin_client import PolicyAdminClient
from engines.tune import strategy as strategies
from engines.tune.runner import Runner, RunnerConfig
from sidecar.support.redis_server import RedisServer
from tests.support.control_plane_proc import ControlPlaneProcess

T0 = 1_700_000_000


def window(service: str, instance: str, seq: int, second: int) -> bytes:
    w = telemetry_pb2.TelemetryWindow(service=service, instance=instance, sequence=seq, policy_version="1")
    w.window_start.FromSeconds(second)
    r = w.routes.add(listener="inbound", route="local", cluster="local")
    r.stats.calls = r.stats.started = 200
    r.stats.errors = seq % 5
    h = histogram.Histogram()
    for i in range(200):
        h.record(0.002 + 0.0005 * ((i * 7 + seq) % 40))
    histogram.encode(h, r.stats.latency)
    w.clusters.add(name="local").stats.counters["caps_rejected_max_requests"] = seq % 3
    return w.SerializeToString()


def policy() -> config_pb2.Policy:
    p = config_pb2.Policy()
    p.route_tables.add(name="inbound").routes.add(name="local", cluster="local")
    c = p.clusters.add(name="local")
    c.endpoints.add(address="127.0.0.1:1")
    c.limits.max_requests = 100
    return p


async def measure(url: str, cp: str, services: int, instances: int, seconds: int) -> None:
    names = [f"svc{i}" for i in range(services)]
    sync = redis.Redis.from_url(url)
    async with PolicyAdminClient(cp, author="bench") as admin:
        for name in names:
            await admin.set(name, policy(), reason="bench", expected_version=0)
            sync.set(keys.strategy_key(name), strategies.preset("aggressive").to_json())
    runner = Runner(url, cp, RunnerConfig(consumer="bench", lag=1.0, snapshot_every=1e9, shadow=True))
    pipe = sync.pipeline()
    for s in range(seconds):  # written up front: only the engine is measured
        for name in names:
            for i in range(instances):
                pipe.xadd(f"apex:telemetry:{{{name}}}", {"window": window(name, f"{name}-{i}", s, T0 + s)})
    pipe.execute()
    await runner.consumer.discover()
    runner.consumer.block_ms = None  # type: ignore[assignment]  # everything is written: never wait for more
    cpu, wall = time.process_time(), time.perf_counter()
    while runner.windows < services * instances * seconds:
        await runner.step(T0)
    ingest_cpu = time.process_time() - cpu
    for s in range(seconds):  # each second closes in turn: one decision per service per second
        await runner.step(T0 + s + 2.01)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    decisions = services * seconds
    await runner.snapshot(T0 + seconds + 3)
    n = runner.windows
    print(f"services={services} instances={instances} seconds={seconds} windows={n} decisions={decisions}")
    print(f"cpu_s={cpu:.2f} wall_s={wall:.2f} (ingest {ingest_cpu:.2f} s CPU)")
    print(f"cpu_ms_per_1000_windows={1000 * ingest_cpu / n * 1000:.1f} cpu_ms_per_decision="
          f"{1000 * (cpu - ingest_cpu) / decisions:.2f} windows_per_cpu_s={n / cpu:.0f}")  # fmt: skip
    await runner.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--services", type=int, default=20)
    ap.add_argument("--instances", type=int, default=4)
    ap.add_argument("--seconds", type=int, default=60)
    args = ap.parse_args()
    server = RedisServer().start()
    try:
        with ControlPlaneProcess(server.url) as cp:
            asyncio.run(measure(server.url, cp.address, args.services, args.instances, args.seconds))
    finally:
        server.close()


if __name__ == "__main__":
    main()
