"""Orchestrate the demo: start the mesh, drive load, draw the dashboard, stop cleanly, report."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import redis.asyncio as aioredis
import yaml
from apex.mesh.v1 import admin_pb2, admin_pb2_grpc, cache_pb2, cache_pb2_grpc

from sidecar.demo import dashboard, topology
from sidecar.demo.load import LoadGenerator, daily_rate
from sidecar.demo.procs import Supervisor
from sidecar.support.redis_server import RedisServer, external_url, free_port


@dataclass
class Sidecar:
    service: str
    instance: str
    ports: dict[str, str]
    admin: Any = None  # AdminStub
    cache: Any = None  # CacheAdminStub
    last_calls: int = 0
    last_errors: int = 0
    last_hits: int = 0
    last_lookups: int = 0


@dataclass
class History:
    """Per-second series kept for the report."""

    t: list[float] = field(default_factory=list)
    offered: list[float] = field(default_factory=list)
    rows: dict[str, list[dashboard.ServiceRow]] = field(default_factory=dict)


class Demo:
    def __init__(self, work: Path, period: float, peak: float, flaky_after: float, redis_url: str | None) -> None:
        self.work = work
        self.period = period
        self.peak = peak
        self.flaky_after = flaky_after
        self.sup = Supervisor(work)
        self.redis_url = redis_url
        self.redis_server: RedisServer | None = None
        self.sidecars: list[Sidecar] = []
        self.frontend_address = ""
        self.history = History()

    # --- start-up ---------------------------------------------------------------------------

    def _sidecar(self, instance: topology.Instance, config: dict[str, Any]) -> Sidecar:
        path = self.work / f"{instance.name}-sidecar.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        ports_file = self.work / f"{instance.name}-ports.json"
        args = ["sidecar", "--config", str(path), "--ports-file", str(ports_file), "--log-level", "WARNING"]
        if self.redis_url:
            args += ["--redis", self.redis_url]  # publish telemetry windows (docs/observability.md)
        proc = self.sup.start_python(f"{instance.name}-sidecar", "sidecar", *args)
        ports = self.sup.wait_for_file(proc, ports_file)
        sc = Sidecar(instance.service, instance.name, ports)
        self.sidecars.append(sc)
        return sc

    def start(self) -> None:
        if self.redis_url is None:
            self.redis_server = RedisServer().start()
            self.redis_url = self.redis_server.url
        inbound: dict[str, list[str]] = {"catalog": [], "pricing": []}
        for inst in topology.INSTANCES:
            if inst.service == "frontend":
                continue
            port = free_port()
            args = [a.format(flaky_after=self.flaky_after) for a in inst.args]
            self.sup.start_python(inst.name, "sidecar.examples.shop", inst.role, "--port", str(port),
                                  "--name", inst.name, *args)  # fmt: skip
            sc = self._sidecar(inst, topology.backend_sidecar(inst, port))
            inbound[inst.service].append(sc.ports["inbound"])
        front = next(i for i in topology.INSTANCES if i.service == "frontend")
        port = free_port()
        sc = self._sidecar(front, topology.frontend_sidecar(port, inbound["catalog"], inbound["pricing"]))
        self.sup.start_python(front.name, "sidecar.examples.shop", "frontend", "--port", str(port),
                              "--sidecar", sc.ports["outbound"])  # fmt: skip
        self.frontend_address = sc.ports["inbound"]
        self._wait_serving()

    def _wait_serving(self, timeout: float = 30.0) -> None:
        """The frontend answers through its sidecar before load starts."""
        from apex.mesh.v1 import shop_pb2, shop_pb2_grpc

        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(self.frontend_address) as channel:
            stub = shop_pb2_grpc.FrontendStub(channel)
            while True:
                try:
                    stub.ViewItem(shop_pb2.ViewItemRequest(item_id="1"), timeout=2)
                    return
                except grpc.RpcError:
                    if time.monotonic() > deadline or self.sup.dead():
                        raise RuntimeError(f"the mesh did not come up; logs in {self.work}") from None
                    time.sleep(0.2)

    # --- live view ----------------------------------------------------------------------------

    async def _row(self, sc: Sidecar, dt: float) -> dashboard.ServiceRow:
        row = dashboard.ServiceRow(sc.service)
        try:
            stats = await sc.admin.GetStats(admin_pb2.GetStatsRequest(), timeout=1)
        except grpc.aio.AioRpcError:
            row.breaker = "admin unreachable"
            return row
        local = [r for r in stats.routes if r.listener == "inbound"]
        calls = sum(r.calls for r in local)
        errors = sum(n for r in local for code, n in r.status_codes.items() if code != "OK")
        d_calls, d_errors = calls - sc.last_calls, errors - sc.last_errors
        sc.last_calls, sc.last_errors = calls, errors
        row.calls_per_s = d_calls / dt if dt > 0 else 0.0
        row.error_rate = d_errors / d_calls if d_calls else 0.0
        row.policy_version = stats.policy_version or "-"
        await self._cache(sc, row)
        return row

    async def _cache(self, sc: Sidecar, row: dashboard.ServiceRow) -> None:
        """Hit rate over the last interval, for sidecars with cache rules."""
        try:
            stats = await sc.cache.GetCacheStats(cache_pb2.GetCacheStatsRequest(), timeout=1)
        except grpc.aio.AioRpcError:
            return
        if not stats.methods:
            return
        hits = sum(m.hits + m.stale_while_revalidate + m.stale_if_error for m in stats.methods)
        lookups = hits + sum(m.misses + m.coalesced for m in stats.methods)
        d_hits, d_lookups = hits - sc.last_hits, lookups - sc.last_lookups
        sc.last_hits, sc.last_lookups = hits, lookups
        row.cache_hit_rate = d_hits / d_lookups if d_lookups else None

    async def _merge(self, rows: list[dashboard.ServiceRow]) -> list[dashboard.ServiceRow]:
        """One row per service: instance rows summed (calls, errors)."""
        merged: dict[str, dashboard.ServiceRow] = {}
        for row in rows:
            m = merged.setdefault(row.service, dashboard.ServiceRow(row.service, policy_version=row.policy_version))
            total = m.calls_per_s + row.calls_per_s
            if total:
                m.error_rate = (m.error_rate * m.calls_per_s + row.error_rate * row.calls_per_s) / total
            m.calls_per_s = total
            if row.breaker != "-":
                m.breaker = row.breaker
            if row.cache_hit_rate is not None:
                m.cache_hit_rate = row.cache_hit_rate
        return list(merged.values())

    async def telemetry_windows(self, client: aioredis.Redis) -> int | None:
        try:
            total = 0
            for service in ("frontend", "catalog", "pricing"):
                total += await client.xlen(f"apex:telemetry:{{{service}}}")
            return total
        except Exception:
            return None

    async def watch(self, load: LoadGenerator, duration: float | None, stop: asyncio.Event, tty: bool) -> None:
        channels = [grpc.aio.insecure_channel(sc.ports["admin"]) for sc in self.sidecars]
        for sc, ch in zip(self.sidecars, channels, strict=True):
            sc.admin = admin_pb2_grpc.AdminStub(ch)
            sc.cache = cache_pb2_grpc.CacheAdminStub(ch)
        client = aioredis.from_url(self.redis_url or "", socket_timeout=1)
        last = time.monotonic()
        try:
            while not stop.is_set():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
                now = time.monotonic()
                elapsed = now - load.started
                rows = await self._merge([await self._row(sc, now - last) for sc in self.sidecars])
                last = now
                recent = load.seconds.get(int(elapsed) - 1)
                if recent and recent.latencies:
                    lat = sorted(recent.latencies)
                    front = next(r for r in rows if r.service == "frontend")
                    front.p50_ms = lat[len(lat) // 2] * 1e3
                    front.p99_ms = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e3
                offered = daily_rate(elapsed, self.period, self.peak)
                frame = dashboard.Frame(elapsed, duration or 0.0, offered, rows,
                                        await self.telemetry_windows(client))  # fmt: skip
                self.history.t.append(elapsed)
                self.history.offered.append(offered)
                for row in rows:
                    self.history.rows.setdefault(row.service, []).append(row)
                text = dashboard.render(frame)
                if tty:
                    sys.stdout.write("\x1b[H\x1b[2J" + text + "\n")
                elif int(elapsed) % 10 == 0:
                    sys.stdout.write(text.splitlines()[0] + "\n")
                sys.stdout.flush()
        finally:
            await client.aclose()
            for ch in channels:
                await ch.close()

    def stop(self) -> None:
        self.sup.stop_all()
        if self.redis_server is not None:
            self.redis_server.close()


async def _drive(demo: Demo, duration: float | None, tty: bool) -> tuple[LoadGenerator, int | None]:
    load = LoadGenerator(demo.frontend_address, demo.period, demo.peak)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    load_task = asyncio.create_task(load.run(duration if duration is not None else 10**9))
    load_task.add_done_callback(lambda _: stop.set())
    load.started = time.monotonic()
    await demo.watch(load, duration, stop, tty)
    load_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await load_task
    client = aioredis.from_url(demo.redis_url or "", socket_timeout=2)
    windows = await demo.telemetry_windows(client)
    await client.aclose()
    return load, windows


def run(duration: float | None, period: float, peak: float, report_dir: Path, redis_url: str | None) -> int:
    import uvloop

    from sidecar.demo import report

    with tempfile.TemporaryDirectory(prefix="apex-demo-") as tmp:
        demo = Demo(Path(tmp), period, peak, flaky_after=period * 0.4, redis_url=redis_url or external_url())
        try:
            print("starting the mesh: redis, sidecars, services ...", flush=True)
            demo.start()
            print(f"frontend reachable through its sidecar at {demo.frontend_address}", flush=True)
            load, windows = uvloop.run(_drive(demo, duration, sys.stdout.isatty()))
        finally:
            demo.stop()
        sent, ok, errors = load.totals()
        path = report.write(report_dir, demo.history, load, windows)
    print(f"\ncalls sent {sent}, ok {ok}, failed {errors}; telemetry windows {windows}; report: {path}")
    if ok == 0:
        print("demo failed: no call succeeded", file=sys.stderr)
        return 1
    if not windows:
        print("demo failed: no telemetry window arrived in Redis", file=sys.stderr)
        return 1
    return 0
