"""The forecasting engine end to end: telemetry windows in a real Redis, a real control plane;
a rising service gets its cache TTL raised (source FORECASTER, with the reason), a flat one not."""

from __future__ import annotations

import asyncio
import time

from apex.mesh.v1 import config_pb2, control_pb2, telemetry_pb2

from engines.control.admin_client import PolicyAdminClient
from engines.forecast.decide import SpikeRule
from engines.forecast.runner import Runner
from sidecar.support.redis_server import RedisServer
from tests.support.control_plane_proc import ControlPlaneProcess


def policy_with_cache() -> config_pb2.Policy:
    policy = config_pb2.Policy()
    table = policy.route_tables.add(name="inbound")
    table.routes.add(name="local", cluster="local")
    policy.clusters.add(name="local").endpoints.add(address="127.0.0.1:50051")
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


def test_rising_service_gets_its_cache_ttl_raised() -> None:
    redis = RedisServer().start()
    try:
        with ControlPlaneProcess(redis.url) as cp:
            asyncio.run(_scenario(redis.url, cp.address))
    finally:
        redis.close()


async def _scenario(redis_url: str, control_plane: str) -> None:
    operator = PolicyAdminClient(control_plane, author="alice")
    for service in ("rising", "flat"):
        await operator.set(service, policy_with_cache(), reason="initial", expected_version=0)

    runner = Runner(redis_url, control_plane, rule=SpikeRule(horizon=20, ratio=1.3, min_rate=5, cooldown=600))
    now = int(time.time())
    for k, second in enumerate(range(now - 60, now - 3)):
        for instance in ("a", "b"):  # two instances share the load
            rising = 5 + k  # 5 → 61 calls/s over a minute
            await runner.redis.xadd(
                "apex:telemetry:{rising}", {"window": window("rising", instance, k, second, rising // 2)}
            )
            await runner.redis.xadd("apex:telemetry:{flat}", {"window": window("flat", instance, k, second, 10)})
    await runner.redis.xadd("apex:telemetry:{flat}", {"garbage": b"x"})  # dead-lettered, not fatal

    deadline = time.monotonic() + 20
    while runner.actions_applied == 0:
        assert time.monotonic() < deadline, "the forecaster took no action"
        await runner.step(time.time())
    await runner.step(time.time())  # drain the rest

    history = await operator.history("rising")
    action = history[0]
    assert action.source == control_pb2.FORECASTER and action.author == "forecaster"
    assert "forecast" in action.reason and "cache TTL 5s -> 10s" in action.reason
    assert [(d.path, d.new_value) for d in action.diff] == [("cache[quote].ttl", "10s")]
    current = await operator.get("rising")
    assert current.policy.cache[0].ttl.seconds == 10
    flat = await operator.history("flat")
    assert [r.source for r in flat] == [control_pb2.OPERATOR]  # no spike predicted: untouched
    assert runner.consumer.dead_lettered == 1
    await runner.close()
    await operator.close()
