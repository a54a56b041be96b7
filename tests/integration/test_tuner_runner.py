"""The tuning engine's runner against a real Redis and a real control plane, fed telemetry windows
written the way sidecars write them, on a clock the test drives (no sleeps): a canary whose
instances do as well as the others is promoted to 100% with Welch's test as evidence; the model is
saved to Redis and a new engine resumes it (same Q-table, same replay, learning on, version + 1);
shadow mode and a frozen strategy push nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import redis
from apex.mesh.contract import histogram
from apex.mesh.contract import tune as keys
from apex.mesh.v1 import config_pb2, control_pb2, telemetry_pb2

from engines.control.admin_client import PolicyAdminClient
from engines.tune import strategy as strategies
from engines.tune.runner import Runner, RunnerConfig
from sidecar.support.redis_server import RedisServer
from tests.support.control_plane_proc import ControlPlaneProcess

pytestmark = pytest.mark.integration
T0 = 1_700_000_000


@pytest.fixture(scope="module")
def mesh() -> Iterator[tuple[str, str]]:
    server = RedisServer().start()
    try:
        with ControlPlaneProcess(server.url) as cp:
            yield server.url, cp.address
    finally:
        server.close()


def window(
    service: str, instance: str, seq: int, second: int, version: str, errors: int = 2, calls: int = 100
) -> dict[str, bytes]:
    """100 calls of 10-20 ms, `errors` of them failed (a reward below 1: the Q-values move)."""
    w = telemetry_pb2.TelemetryWindow(service=service, instance=instance, sequence=seq, policy_version=version)
    w.window_start.FromSeconds(second)
    w.window.FromSeconds(1)
    r = w.routes.add(listener="inbound", route="local", cluster="local")
    r.stats.calls = r.stats.started = calls
    r.stats.errors = errors
    h = histogram.Histogram()
    for i in range(calls):
        h.record(0.010 + 0.0001 * i)
    histogram.encode(h, r.stats.latency)
    return {"window": w.SerializeToString()}


def policy() -> config_pb2.Policy:
    p = config_pb2.Policy()
    p.route_tables.add(name="inbound").routes.add(name="local", cluster="local")
    c = p.clusters.add(name="local")
    c.endpoints.add(address="127.0.0.1:1")
    c.limits.max_requests = 100
    return p


class Feed:
    """Writes each instance's window per second, as the given policy version, and drives the runner."""

    def __init__(self, client: Any, runner: Runner, service: str) -> None:
        self.client, self.runner, self.service = client, runner, service
        self.seq: dict[str, int] = {}

    async def second(self, s: int, versions: dict[str, str]) -> None:
        for instance, version in versions.items():
            seq = self.seq[instance] = self.seq.get(instance, -1) + 1
            await self.client.xadd(
                f"apex:telemetry:{{{self.service}}}", window(self.service, instance, seq, s, version)
            )
        await self.runner.consumer.discover()  # a new service's stream (the engine does it every 10 s)
        await self.runner.step(s + 1 + self.runner.config.lag + 0.01)  # the second has closed


async def _setup(url: str, cp: str, service: str, strategy: strategies.Strategy) -> None:
    redis.Redis.from_url(url).set(keys.strategy_key(service), strategy.to_json())
    async with PolicyAdminClient(cp, author="alice") as admin:
        await admin.set(service, policy(), reason="initial", expected_version=0)


def _runner(url: str, cp: str, service: str, **kw: Any) -> Runner:
    cfg = RunnerConfig(consumer="c1", lag=1.0, snapshot_every=1e9, services=frozenset({service}), **kw)
    return Runner(url, cp, cfg)


def test_an_equal_canary_is_promoted_and_a_restarted_engine_resumes_its_model(mesh: tuple[str, str]) -> None:
    url, cp = mesh
    strategy = strategies.preset("aggressive", {"concurrency": (80, 80)}, epsilon=0.0, slo=1.0, trial_windows=3)
    asyncio.run(_setup(url, cp, "shop", strategy))
    asyncio.run(_promote_then_restart(url, cp))


async def _promote_then_restart(url: str, cp: str) -> None:
    runner = _runner(url, cp, "shop")
    feed = Feed(runner.redis, runner, "shop")
    await runner.start()
    await feed.second(T0, {"a": "1", "b": "1"})
    canary = runner.decisions[-1]
    assert (canary.kind, canary.changes, canary.version) == ("canary", {"concurrency": [100, 80]}, 2)
    assert canary.paths == {"clusters[local].limits.max_requests": "80"}
    for s in range(T0 + 1, T0 + 4):  # instance a runs the canary; b (the control group) the stable version
        await feed.second(s, {"a": "2", "b": "1"})
    promote = runner.decisions[-1]
    assert promote.kind == "promote", [(d.kind, d.evidence) for d in runner.decisions]
    assert promote.version == 2 and promote.result_version == 3 and promote.canary_instances == ["a"]
    assert "Welch" in promote.evidence and promote.p_value is not None
    assert promote.goodput_after == promote.goodput_before == 0.98
    async with PolicyAdminClient(cp, author="test") as admin:
        record = await admin.get("shop")
        assert (record.version, record.rollout_percent, record.source) == (3, 100.0, control_pb2.TUNER)
        assert record.policy.clusters[0].limits.max_requests == 80
        assert "promote version 2" in record.reason and "Welch" in record.reason, record.reason
    for s in range(T0 + 4, T0 + 8):
        await feed.second(s, {"a": "3", "b": "3"})
    assert runner.decisions[-1] is promote  # at its bounds: nothing more to change
    await runner.snapshot(T0 + 20)
    st = runner.services["shop"]
    saved_q, saved_long = st.tuner.agent.q.copy(), list(st.tuner.agent.replay.long)
    assert st.model_version == 1 and st.last_second == T0 + 7
    client: Any = runner.redis
    assert await client.hget(keys.model_key("shop"), keys.VERSION) == b"1"
    docs = [json.loads(d) for d in await client.lrange(keys.decisions_key("shop"), 0, -1)]
    assert [d["kind"] for d in docs] == ["promote", "canary"]
    await runner.close()

    # a new engine: the same model, windows it already learnt from are ignored, learning goes on
    again = _runner(url, cp, "shop")
    await again.start()
    resumed = await again.state("shop")
    assert resumed.model_version == 1 and resumed.last_second == T0 + 7
    assert np.array_equal(resumed.tuner.agent.q, saved_q)
    assert resumed.tuner.agent.replay.long == saved_long
    old = window("shop", "a", feed.seq["a"], T0 + 7, "3")  # redelivered: a second the model holds
    await again.redis.xadd("apex:telemetry:{shop}", old)
    feed2 = Feed(again.redis, again, "shop")
    feed2.seq = dict(feed.seq)
    for s in range(T0 + 8, T0 + 12):
        await feed2.second(s, {"a": "3", "b": "3"})
    assert again.seconds.late == 1 and again.windows == 8
    assert not np.array_equal(resumed.tuner.agent.q, saved_q)  # it learns on from where it was
    assert len(resumed.tuner.agent.replay.long) > len(saved_long)
    await again.snapshot(T0 + 30)
    assert await again.redis.hget(keys.model_key("shop"), keys.VERSION) == b"2"
    await again.close()


def test_shadow_mode_and_a_frozen_strategy_push_nothing(mesh: tuple[str, str]) -> None:
    url, cp = mesh
    forced = strategies.preset("aggressive", {"concurrency": (40, 40)}, epsilon=0.0, slo=1.0)
    asyncio.run(_setup(url, cp, "dark", forced))
    asyncio.run(_setup(url, cp, "still", strategies.with_changes(forced, frozen=True)))
    asyncio.run(_quiet(url, cp))


async def _quiet(url: str, cp: str) -> None:
    shadow = _runner(url, cp, "dark", shadow=True, group="shadow")
    await shadow.start()
    feed = Feed(shadow.redis, shadow, "dark")
    for s in range(T0, T0 + 3):
        await feed.second(s, {"a": "1"})
    assert shadow.decisions and {d.kind for d in shadow.decisions} == {"shadow"}
    assert shadow.decisions[0].changes == {"concurrency": [100, 40]} and shadow.decisions[0].shadow
    frozen = _runner(url, cp, "still")
    await frozen.start()
    feed = Feed(frozen.redis, frozen, "still")
    for s in range(T0, T0 + 3):
        await feed.second(s, {"a": "1"})
    assert frozen.decisions == []
    async with PolicyAdminClient(cp, author="test") as admin:
        for service in ("dark", "still"):
            assert [r.version for r in await admin.history(service)] == [1], service
    await shadow.close()
    await frozen.close()


def test_one_instance_is_compared_with_the_seconds_before_and_a_silent_canary_is_rolled_back(
    mesh: tuple[str, str],
) -> None:
    url, cp = mesh
    forced = strategies.preset("aggressive", {"concurrency": (30, 30)}, epsilon=0.0, slo=1.0)
    asyncio.run(_setup(url, cp, "solo", forced))
    asyncio.run(_setup(url, cp, "mute", forced))
    asyncio.run(_solo_and_mute(url, cp))


async def _solo_and_mute(url: str, cp: str) -> None:
    runner = _runner(url, cp, "solo", group="solo", apply_timeout=3.0)
    await runner.start()
    feed = Feed(runner.redis, runner, "solo")
    for s in range(T0, T0 + 3):
        await feed.second(s, {"a": "1"})  # the seconds before the change (baseline goodput 0.98)
    canary = next(d for d in runner.decisions if d.kind == "canary")
    await runner.redis.xadd("apex:telemetry:{solo}", window("solo", "a", 99, T0 + 3, str(canary.version), errors=60))
    await runner.step(T0 + 5.01)
    rollback = runner.decisions[-1]
    assert rollback.kind == "rollback" and "regression" in rollback.evidence, rollback
    assert rollback.goodput_before == 0.98 and rollback.goodput_after == 0.4  # against the seconds before
    await runner.close()

    mute = _runner(url, cp, "mute", group="mute", apply_timeout=3.0)
    await mute.start()
    feed = Feed(mute.redis, mute, "mute")
    await feed.second(T0, {"a": "1", "b": "1"})
    pushed = mute.decisions[-1]
    assert pushed.kind == "canary"
    for s in range(T0 + 1, T0 + 6):  # no instance ever reports the new version
        await feed.second(s, {"a": "1", "b": "1"})
    undone = mute.decisions[1]  # (then, the rate limit passed, it tries again)
    assert undone.kind == "rollback", [(d.kind, d.evidence) for d in mute.decisions]
    assert f"no instance ran version {pushed.version} for 3s" in undone.evidence
    async with PolicyAdminClient(cp, author="test") as admin:
        record = await admin.get("mute", undone.result_version)
        assert record.rollback_of == 1 and record.policy.clusters[0].limits.max_requests == 100
    await mute.close()


def test_thin_seconds_are_neither_learnt_from_nor_judged(mesh: tuple[str, str]) -> None:
    url, cp = mesh
    forced = strategies.preset("aggressive", {"concurrency": (30, 30)}, epsilon=0.0, slo=1.0)
    asyncio.run(_setup(url, cp, "thin", forced))

    async def body() -> None:
        runner = _runner(url, cp, "thin", group="thin", min_calls=20, max_trial=5.0)
        await runner.start()
        client: Any = runner.redis
        stream = "apex:telemetry:{thin}"
        await client.xadd(stream, window("thin", "a", 0, T0, "1", errors=0, calls=5))
        await client.xadd(stream, window("thin", "b", 0, T0, "1", errors=0, calls=5))
        await runner.consumer.discover()
        await runner.step(T0 + 2.01)
        assert runner.decisions == [] and runner.services["thin"].last_second == T0  # 10 calls: too few
        await client.xadd(stream, window("thin", "a", 1, T0 + 1, "1", errors=0, calls=50))
        await runner.step(T0 + 3.01)
        assert [d.kind for d in runner.decisions] == ["canary"]
        for s in range(T0 + 2, T0 + 10):  # the canary's instance sees too few calls to judge it by
            await client.xadd(stream, window("thin", "a", s, s, "2", errors=0, calls=3))
            await client.xadd(stream, window("thin", "b", s, s, "1", errors=0, calls=50))
            await runner.step(s + 2.01)
        assert [d.kind for d in runner.decisions][:2] == ["canary", "rollback"]
        assert "fewer than 20 calls a second to judge it by within 5s" in runner.decisions[1].evidence
        await runner.close()

    asyncio.run(body())


SHORT = """name: short
duration: 8s
seed: 1
slo: {latency: 100ms}
endpoints:
  - {capacity: 300, latency: 5ms}
  - {capacity: 300, latency: 5ms, events: [{at: 4s, error_rate: 0.5}]}
load:
  - {at: 0s, rate: 400}
"""


def test_a_new_service_can_start_from_a_model_pretrained_in_the_simulator(mesh: tuple[str, str], tmp_path: Any) -> None:
    url, cp = mesh
    scenario = tmp_path / "short.yaml"
    scenario.write_text(SHORT)
    asyncio.run(_setup(url, cp, "fresh", strategies.preset("balanced", {"concurrency": (8, 2048)})))

    async def body() -> None:
        runner = _runner(url, cp, "fresh", group="fresh", pretrain=str(scenario), pretrain_episodes=2, shadow=True)
        st = await runner.state("fresh")
        assert st.model_version == 0 and st.last_second == -1  # a prior, not a stored model
        q = st.tuner.agent.q
        assert (q != q.max()).any()  # it has learnt something: not all at the optimistic start
        assert len(st.tuner.agent.replay.long) > 0
        assert st.tuner.agent.epsilon == 0.1  # the strategy's exploration, not the training's
        await runner.close()

    asyncio.run(body())
