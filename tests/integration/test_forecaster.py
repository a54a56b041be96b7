"""The forecasting engine end to end on a real Redis and a real control plane: a rising service gets a
spike predicted (an event with a correlation id), its caps and cache TTL raised (source FORECASTER,
the forecast in the reason) and reverted when the prediction has passed; a flat one is untouched;
--dry-run patches nothing; `apex forecast show` reads what the engine stored."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from apex.mesh.contract import entries
from apex.mesh.contract import forecast as keys
from apex.mesh.v1 import config_pb2, control_pb2, telemetry_pb2

from engines.control.admin_client import PolicyAdminClient
from engines.forecast import actions
from engines.forecast.actions import ActionRules
from engines.forecast.engine import EngineConfig
from engines.forecast.predict import SPIKE, Rules
from engines.forecast.runner import Runner, RunnerConfig
from sidecar.cli import forecast_show
from sidecar.support.redis_server import RedisServer
from tests.support.control_plane_proc import ControlPlaneProcess

pytestmark = pytest.mark.integration


def policy_with_cache() -> config_pb2.Policy:
    policy = config_pb2.Policy()
    table = policy.route_tables.add(name="inbound")
    table.routes.add(name="local", cluster="local")
    local = policy.clusters.add(name="local")
    local.endpoints.add(address="127.0.0.1:50051")
    local.limits.max_requests = 20
    rule = policy.cache.add(name="quote", method="/apex.mesh.v1.Pricing/Quote")
    rule.ttl.FromSeconds(5)
    return policy


def window(service: str, instance: str, seq: int, second: int, calls: int) -> bytes:
    w = telemetry_pb2.TelemetryWindow(service=service, instance=instance, sequence=seq)
    w.window_start.FromSeconds(second)
    w.window.FromSeconds(1)
    route = w.routes.add(listener="inbound", route="local", cluster="local")
    route.stats.calls = calls
    out = w.routes.add(listener="outbound", route="pricing", cluster="pricing")
    out.stats.calls = 1000  # outbound calls are not the service's own load
    return w.SerializeToString()


def fast_config(**kw: object) -> RunnerConfig:
    engine = EngineConfig(resolution_s=1, history=120, horizon=20, fast_horizon=20,
                          rules=Rules(spike_k=1.5, min_rate=2, min_points=20))  # fmt: skip
    args: dict[str, object] = {"consumer": "c1", **kw}
    return RunnerConfig(lag=1.0, evaluate_every=0.01, snapshot_every=0.01, engine=engine,
                        actions=ActionRules(hold_s=1.0), **args)  # type: ignore[arg-type]  # fmt: skip


async def feed(runner: Runner, services: dict[str, list[int]], end: int) -> None:
    """Per service, calls per second for the seconds before `end`, split over two instances."""
    for service, rates in services.items():
        start = end - len(rates)
        for k, calls in enumerate(rates):
            for instance in ("a", "b"):
                fields = {"window": window(service, instance, k, start + k, calls // 2)}
                await runner.redis.xadd(f"apex:telemetry:{{{service}}}", fields)  # type: ignore[arg-type]


def test_rising_service_gets_a_spike_predicted_acted_on_and_reverted(tmp_path: Path) -> None:
    redis = RedisServer().start()
    try:
        with ControlPlaneProcess(redis.url) as cp:
            asyncio.run(_scenario(redis.url, cp.address, tmp_path))
    finally:
        redis.close()


async def _scenario(redis_url: str, control_plane: str, tmp_path: Path) -> None:
    operator = PolicyAdminClient(control_plane, author="alice")
    for service in ("rising", "flat", "quiet"):
        await operator.set(service, policy_with_cache(), reason="initial", expected_version=0)
    runner = Runner(redis_url, control_plane, fast_config())
    now = int(time.time())
    rising = [10] * 40 + [10 + 2 * k for k in range(20)]  # flat, then a ramp 10 -> 48 calls/s
    await feed(runner, {"rising": rising, "flat": [10] * 60}, now - 1)
    await runner.redis.xadd("apex:telemetry:{flat}", {"garbage": b"x"})  # dead-lettered, not fatal
    await runner.start()
    deadline = time.monotonic() + 30
    while runner.actions_applied == 0:
        assert time.monotonic() < deadline, "the forecaster took no action"
        await runner.step(time.time())
    await runner.step(time.time())

    history = await operator.history("rising")
    action = history[0]
    assert action.source == control_pb2.FORECASTER and action.author == "forecaster"
    assert "rate will exceed 1.5x its baseline" in action.reason
    changed = {d.path: d.new_value for r in history if r.source == control_pb2.FORECASTER for d in r.diff}
    assert changed == {"clusters[local].limits.max_requests": "30", "cache[quote].ttl": "10s"}, changed
    current = await operator.get("rising")
    assert current.policy.cache[0].ttl.seconds == 10
    assert [r.source for r in await operator.history("flat")] == [control_pb2.OPERATOR]  # untouched
    assert runner.consumer.dead_lettered == 1

    events = [entries.decode_event(f) for _, f in await runner.redis.xrange("apex:events:{rising}")]
    spike = [e for e in events if e.kind == f"forecast.{SPIKE}"]
    applied = [e for e in events if e.kind == "forecast.action_applied"]
    assert len(spike) == 1 and spike[0].priority >= telemetry_pb2.MEDIUM and float(spike[0].attributes["lead_s"]) >= 0
    assert applied and {e.correlation_id for e in applied} == {spike[0].correlation_id}
    assert "cache TTL 5s -> 10s" in " ".join(e.message for e in applied)

    state = forecast_show.load(redis_url, "rising", "forecaster")
    await runner.measure_lag(time.time())
    state = forecast_show.load(redis_url, "rising", "forecaster")
    text = forecast_show.render("rising", state, 5, time.time())
    assert "traffic_spike" in text and "applied" in text and "forecast (model" in text and "consumer lag" in text
    show = subprocess.run([sys.executable, "-m", "sidecar", "forecast", "show", "--service", "rising",
                           "--redis", redis_url, "--plot", str(tmp_path / "f.png")],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert show.returncode == 0, show.stderr
    assert "predictions:" in show.stdout and (tmp_path / "f.png").stat().st_size > 1000

    # the prediction has passed (episode not renewed past its hold): the old values come back
    for ep in runner.planner.episodes.values():
        ep.until = 0.0
    await runner._reverts("rising", time.time())
    current = await operator.get("rising")
    assert current.policy.cache[0].ttl.seconds == 5 and current.policy.clusters[0].limits.max_requests == 20
    assert "revert: the traffic_spike" in (await operator.history("rising"))[0].reason
    await runner.close()

    dry = Runner(redis_url, control_plane, fast_config(dry_run=True, group="dry", consumer="d1"))
    await feed(dry, {"quiet": rising}, int(time.time()) - 1)
    await dry.start()
    deadline = time.monotonic() + 30
    while not forecast_show.load(redis_url, "quiet", "dry").get("actions"):
        assert time.monotonic() < deadline, "no dry-run action recorded"
        await dry.step(time.time())
    assert dry.actions_applied == 0
    assert [r.source for r in await operator.history("quiet")] == [control_pb2.OPERATOR]  # nothing patched
    assert {a["status"] for a in forecast_show.load(redis_url, "quiet", "dry")["actions"]} == {"dry-run"}
    await dry.close()
    await operator.close()


def test_an_action_that_lost_a_race_is_retried_or_refused_by_what_changed() -> None:
    """Another writer (the tuner, an operator) stores a version between the forecaster's read and its
    patch: a change whose field still holds the planned value goes on top of theirs; one whose field
    they changed is refused, naming the field, and theirs stands."""
    redis = RedisServer().start()
    try:
        with ControlPlaneProcess(redis.url) as cp:
            asyncio.run(_race(redis.url, cp.address))
    finally:
        redis.close()


async def _race(redis_url: str, control_plane: str) -> None:
    operator = PolicyAdminClient(control_plane, author="alice")
    first = await operator.set("raced", policy_with_cache(), reason="initial", expected_version=0)
    runner = Runner(redis_url, control_plane, fast_config(group="race", consumer="r1"))
    await runner.start()
    try:
        planned = actions.facts(first.policy, runner.config.listeners)
        cap = "clusters[local].limits.max_requests"
        await operator.patch("raced", cap, "25", reason="operator", expected_version=first.version)
        ttl = actions.Action("raced", "cache[quote].ttl", "10s", "spike ahead", "cid-1")
        await runner._apply("raced", [ttl], first.version, time.time(), planned)
        current = await operator.get("raced")
        assert current.policy.cache[0].ttl.seconds == 10 and current.policy.clusters[0].limits.max_requests == 25
        assert current.version == first.version + 2 and runner.actions_applied == 1

        raise_cap = actions.Action("raced", cap, "30", "spike ahead", "cid-1")
        await runner._apply("raced", [raise_cap], first.version, time.time(), planned)
        after = await operator.get("raced")
        assert after.version == current.version and after.policy.clusters[0].limits.max_requests == 25
        docs = [json.loads(d) for d in await runner.redis.lrange(keys.state_key("raced") + ":" + keys.ACTIONS, 0, -1)]
        assert docs[0]["status"] == "refused", docs[0]
        assert f"{cap} was changed by another writer since (now 25)" in json.dumps(docs[0]), docs[0]
    finally:
        await runner.close()
