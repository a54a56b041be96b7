"""Killing the forecasting engine mid-run loses no window and counts none twice (issue 11 item 1):
a restarted engine restores its snapshot and reads its pending entries again; a peer claims a dead
consumer's pending entries and counts them (they used to be acknowledged unread)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import redis
from apex.mesh.contract import forecast as keys
from apex.mesh.v1 import telemetry_pb2

from engines.forecast.engine import EngineConfig
from engines.forecast.ring import MultiRes
from engines.forecast.runner import Runner, RunnerConfig
from sidecar.support.redis_server import RedisServer

pytestmark = pytest.mark.integration
NO_CONTROL_PLANE = "127.0.0.1:9"


def calls(second: int) -> int:
    return 1 + second % 7


def window(instance: str, seq: int, second: int) -> bytes:
    w = telemetry_pb2.TelemetryWindow(service="shop", instance=instance, sequence=seq)
    w.window_start.FromSeconds(second)
    w.routes.add(listener="inbound", route="buy", cluster="local").stats.calls = calls(second)
    return w.SerializeToString()


def engine(url: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "sidecar", "forecaster", "--redis", url, "--control-plane", NO_CONTROL_PLANE,
           "--resolution", "1", "--consumer", "c1", "--lag", "1", "--snapshot-every", "0.5",
           "--evaluate-every", "1000", "--log-level", "WARNING"]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_a_killed_engine_resumes_from_its_snapshot_and_pending_entries() -> None:
    server = RedisServer().start()
    client: Any = redis.Redis.from_url(server.url)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        first = int(time.time())
        seq = 0

        def publish_until(done: Callable[[], bool], limit: float = 60.0) -> None:
            """Two instances' windows, one a second each (as sidecars send them), until `done()`."""
            nonlocal seq
            deadline = time.time() + limit
            while not done():
                assert time.time() < deadline, "the engine made no progress"
                second = int(time.time()) - 1
                if second >= first + seq:
                    for instance in ("a", "b"):
                        client.xadd("apex:telemetry:{shop}", {"window": window(instance, seq, first + seq)})
                    seq += 1
                time.sleep(0.05)

        def saved() -> int:
            """Seconds the stored snapshot holds."""
            stored = client.hget(keys.snapshot_key("forecaster"), "shop")
            return 0 if not stored else int(MultiRes.from_bytes(stored).rings[1].column("rate")[0].size)

        def after(seconds: float) -> Callable[[], bool]:
            t_end = time.time() + seconds
            return lambda: time.time() >= t_end

        procs.append(engine(server.url))
        publish_until(lambda: saved() >= 3)  # it has snapshotted (and acknowledged) some seconds ...
        publish_until(after(1.5))  # ... and read later windows it has not acknowledged yet:
        publish_until(lambda: client.xpending("apex:telemetry:{shop}", "forecaster")["pending"] > 0)
        procs[0].send_signal(signal.SIGKILL)  # mid-run: no final snapshot, entries left pending
        procs[0].wait(10)
        publish_until(after(2))  # windows keep arriving while it is down
        down = seq
        procs.append(engine(server.url))
        publish_until(lambda: saved() >= down + 2)  # the restarted engine has caught up past the outage
        procs[1].send_signal(signal.SIGTERM)  # a clean stop: final snapshot
        assert procs[1].wait(20) == 0
        sent = seq
        stored = client.hget(keys.snapshot_key("forecaster"), "shop")
        assert stored, "no snapshot"
        ring = MultiRes.from_bytes(stored).rings[1]
        times, rates = ring.column("rate")
        assert times[0] == first, (times[:3], first)
        assert np.array_equal(times, np.arange(first, first + times.size)), "a second is missing"
        expected = np.array([2 * calls(int(t)) for t in times], dtype=float)
        np.testing.assert_array_equal(rates, expected)  # every window counted, none twice
        assert times.size >= sent - 4, (times.size, sent)  # only the still-open last seconds are missing
        assert client.xpending("apex:telemetry:{shop}", "forecaster")["pending"] <= 2 * 4
    finally:
        for p in procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(10)
        client.close()
        server.close()


def test_a_peer_counts_a_dead_consumers_pending_entries() -> None:
    """`Runner.run` used to acknowledge the entries it claimed from a dead peer unread."""
    server = RedisServer().start()

    async def scenario() -> None:
        start = int(time.time()) - 20
        cfg = RunnerConfig(consumer="dead", lag=0.0, engine=EngineConfig(resolution_s=1), claim_idle_ms=0)
        dead = Runner(server.url, NO_CONTROL_PLANE, cfg)
        for seq in range(10):
            fields: Any = {"window": window("a", seq, start + seq)}
            await dead.redis.xadd("apex:telemetry:{shop}", fields)
        await dead.consumer.discover()
        assert len(await dead.consumer.read()) == 10  # read, never acknowledged: then it dies
        await dead.close()
        peer = Runner(server.url, NO_CONTROL_PLANE, RunnerConfig(consumer="peer", lag=0.0, claim_idle_ms=0,
                      rediscover_every=0.1, engine=EngineConfig(resolution_s=1)))  # fmt: skip
        stop = asyncio.Event()
        task = asyncio.create_task(peer.run(stop))
        await asyncio.sleep(2.0)
        stop.set()
        await asyncio.wait_for(task, 10)
        times, rates = peer.engine.series["shop"].rings[1].column("rate")
        counted = {int(t): r for t, r in zip(times, rates, strict=True) if start <= t < start + 10}
        assert counted == {t: float(calls(t)) for t in range(start, start + 10)}
        assert (await peer.redis.xpending("apex:telemetry:{shop}", "forecaster"))["pending"] == 0
        await peer.close()

    try:
        asyncio.run(scenario())
    finally:
        server.close()
