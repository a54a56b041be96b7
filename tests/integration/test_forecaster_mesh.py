"""The forecasting engine with a real Redis, a real control plane and a real sidecar in front of an
upstream of limited capacity (at most 2 calls at a time, 50 ms each: ~40 calls/s). The load is flat,
then ramps up like a morning: the engine predicts the spike and pushes a preventive policy that the
sidecar ACKs before the rate crosses the spike threshold, and predicts the shortage before the p99
crosses its SLO (issue 11, "done when"), at a capacity near the true one. Run with -s to see the
shortage's lead over the SLO crossing."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from apex.mesh.contract import entries
from apex.mesh.v1 import config_pb2, control_pb2, echo_pb2, echo_pb2_grpc

from engines.control.admin_client import PolicyAdminClient
from engines.forecast.actions import ActionRules
from engines.forecast.engine import EngineConfig
from engines.forecast.predict import SHORTAGE, SPIKE, Rules
from engines.forecast.runner import Runner, RunnerConfig
from sidecar.config.yaml_proto import fill
from sidecar.examples.echo import BackgroundEcho
from sidecar.support.redis_server import RedisServer
from tests.support.control_plane_proc import ControlPlaneProcess
from tests.support.sidecar_proc import SidecarProcess, proxy_config

pytestmark = pytest.mark.integration
FLAT_S, LOW = 8.0, 8.0
SLOW_S, MID = 20.0, 18.0  # a slow morning rise: 8 -> 18 calls/s (crosses 2 x 8 after ~16 s) ...
FAST_S, HIGH = 24.0, 50.0  # ... then the rush, past the upstream's capacity
SPIKE_K, SLO_P99 = 2.0, 1.0


def offered(t: float) -> float:
    """Calls/s the load offers `t` seconds after it started: flat, a slow rise, then a steep one."""
    if t < FLAT_S:
        return LOW
    if t < FLAT_S + SLOW_S:
        return LOW + (MID - LOW) * (t - FLAT_S) / SLOW_S
    return MID + (HIGH - MID) * min(1.0, (t - FLAT_S - SLOW_S) / FAST_S)


async def load(address: str, stop: asyncio.Event) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = echo_pb2_grpc.EchoStub(channel)
        tasks: set[asyncio.Task[Any]] = set()
        start = time.monotonic()
        nxt = start
        while not stop.is_set():
            now = time.monotonic()
            if now < nxt:
                await asyncio.sleep(nxt - now)
                continue
            # A starved loop (a loaded machine) skips the calls it is late for instead of sending them in a
            # burst: the offered rate never runs ahead of the curve (a burst made a second cross k x baseline
            # seconds before the ramp did, and the spike "arrive" before the engine could see it coming).
            nxt = max(nxt, now - 0.05)
            task = asyncio.ensure_future(stub.Unary(echo_pb2.EchoRequest(), timeout=5))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())  # overload errors are expected late on
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            nxt += 1.0 / offered(now - start)
        for task in list(tasks):
            task.cancel()


def test_spike_acked_before_it_arrives_and_shortage_before_the_slo(tmp_path: Path) -> None:
    redis = RedisServer().start()
    echo = BackgroundEcho("catalog").start()
    echo.service.delay_ms, echo.service.capacity = 50, 2
    try:
        with ControlPlaneProcess(redis.url) as cp:
            config = proxy_config(echo.address, service="catalog")
            config.update(control_plane=cp.address, last_good_policy_file=str(tmp_path / "lg.binpb"),
                          heartbeat_interval="250ms", telemetry={"redis_url": redis.url, "window": "1s"})  # fmt: skip
            policy_data = copy.deepcopy(config["policy"])
            policy_data["clusters"][0]["limits"] = {"max_requests": 100}
            policy_data["cache"] = [{"name": "never", "method": "/apex.mesh.v1.Echo/Never", "ttl": "5s"}]
            policy = fill(config_pb2.Policy(), policy_data, "policy")
            asyncio.run(_seed(cp.address, policy))
            sidecar = SidecarProcess(config).start()
            try:
                asyncio.run(_scenario(redis.url, cp.address, sidecar["inbound"]))
            finally:
                sidecar.stop()
    finally:
        echo.stop()
        redis.close()


async def _seed(control_plane: str, policy: config_pb2.Policy) -> None:
    async with PolicyAdminClient(control_plane, author="alice") as operator:
        await operator.set("catalog", policy, reason="initial", expected_version=0)


async def _scenario(redis_url: str, control_plane: str, inbound: str) -> None:
    engine = EngineConfig(resolution_s=1, history=120, horizon=20, fast_horizon=20,
                          rules=Rules(spike_k=SPIKE_K, min_rate=2, min_points=10, slo_p99=SLO_P99))  # fmt: skip
    runner = Runner(redis_url, control_plane, RunnerConfig(consumer="mesh", lag=1.0, evaluate_every=0.5,
                    snapshot_every=2.0, engine=engine, actions=ActionRules(hold_s=600)))  # fmt: skip
    admin = PolicyAdminClient(control_plane, author="test")
    acked: dict[int, float] = {}  # policy version -> when the sidecar first reported it applied

    async def watch_acks(stop: asyncio.Event) -> None:
        while not stop.is_set():
            for inst in await admin.instances("catalog"):
                if inst.applied_version.isdigit():
                    acked.setdefault(int(inst.applied_version), time.time())
            await asyncio.sleep(0.1)

    stop = asyncio.Event()
    tasks = [asyncio.create_task(load(inbound, stop)), asyncio.create_task(watch_acks(stop))]
    await runner.start()
    try:
        deadline = time.time() + FLAT_S + SLOW_S + FAST_S + 12
        while time.time() < deadline:
            await runner.step(time.time())
            events = await _events(runner)
            if any(e.kind == f"forecast.{SHORTAGE}" for e in events) and runner.actions_applied:
                break
        # The seconds after the prediction reach the rings: until one shows p99 over the SLO (the crossing
        # the prediction must precede), or for 8 s at most.
        until = time.time() + 8
        while time.time() < until and not _over_slo(runner):
            await runner.step(time.time())
    finally:
        stop.set()
        for task in tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10)

    events = await _events(runner)
    ring = runner.engine.series["catalog"].rings[1]
    times, rates = ring.column("rate")
    _, p99 = ring.column("p99")
    baseline = float(np.median(rates[: int(FLAT_S) - 2]))
    # The rate over two seconds: a call counted in the window after the one it belongs to (window edges, a
    # starved sidecar) moves one count between neighbours, which on a ramp of 0.5 calls/s per second shifted
    # a one-second crossing by seconds; the sum of two neighbours does not move.
    paired = (rates[:-1] + rates[1:]) / 2
    over = times[:-1][paired > SPIKE_K * baseline]
    assert over.size, f"the load never spiked: {rates.tolist()}"
    # On a ramp, the mean of two seconds crosses where the rate does at their middle: the spike arrives at the end
    # of the first of the first two seconds whose mean rate exceeded k x baseline.
    spike_arrived = float(over[0]) + 1

    spikes = [e for e in events if e.kind == f"forecast.{SPIKE}"]
    assert spikes, [e.kind for e in events]
    history = [r for r in await admin.history("catalog") if r.source == control_pb2.FORECASTER]
    assert history, "no preventive policy was pushed"
    first = min(history, key=lambda r: r.version)
    later = [t for v, t in acked.items() if v >= first.version]  # versions pushed together ACK as the newest
    assert later, f"the sidecar never ACKed version {first.version} or newer: {acked}"
    assert min(later) < spike_arrived, (min(later), spike_arrived, rates.tolist())

    shortage = [e for e in events if e.kind == f"forecast.{SHORTAGE}"]
    assert shortage, [e.message for e in events]
    slow = times[np.nan_to_num(p99, nan=0.0) > SLO_P99]
    crossed = float(slow[0]) + 1 if slow.size else float("inf")  # the end of the first second over the SLO
    predicted = shortage[0].time.ToNanoseconds() / 1e9
    print(f"shortage lead {crossed - predicted:.2f} s: {shortage[0].message}")  # shown with -s
    assert predicted < crossed, (predicted, crossed, shortage[0].message, p99.tolist())
    assert "reaches its capacity" in shortage[0].message
    # the capacity the telemetry revealed: 2 calls at a time of ~50 ms each is ~40 calls/s
    assert 32 <= float(shortage[0].attributes["capacity"]) <= 48, (shortage[0].message, dict(shortage[0].attributes))
    await runner.close()
    await admin.close()


def _over_slo(runner: Runner) -> bool:
    series = runner.engine.series.get("catalog")
    if series is None:
        return False
    _, p99 = series.rings[1].column("p99")
    return bool(np.any(np.nan_to_num(p99, nan=0.0) > SLO_P99))


async def _events(runner: Runner) -> list[Any]:
    return [entries.decode_event(f) for _, f in await runner.redis.xrange("apex:events:{catalog}")]
