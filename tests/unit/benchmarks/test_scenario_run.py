"""The real-process scenario runner's pure parts: scaling, endpoint state, key versions, policy mapping, summary."""

from __future__ import annotations

from dataclasses import replace

import pytest
from apex.mesh.v1 import config_pb2
from google.protobuf import json_format

from benchmarks.scenario_run import policy as policies
from benchmarks.scenario_run.loadgen import Window
from benchmarks.scenario_run.runner import observation, summarise
from benchmarks.scenario_run.timeline import Updates, endpoint_state, scaled
from engines.tune.params import DEFAULT, Params
from engines.tune.scenario import loads
from sidecar.config.yaml_proto import fill
from sidecar.policy.convert import policy as policy_from_proto

GRAY = """
name: gray
duration: 120s
seed: 7
slo: {latency: 100ms}
endpoints:
  - {capacity: 400, latency: 5ms}
  - {capacity: 400, latency: 5ms, events: [{at: 30s, latency: 60ms}, {at: 60s, capacity: 100}, {at: 90s, down: true}]}
load:
  - {at: 0s, rate: 300}
  - {at: 60s, rate: 900, ramp_to: 1200}
cache: {keys: 50, zipf: 1.1, update_interval: 10s, events: [{at: 60s, update_interval: 1s}]}
"""

CANARY = """
name: canary
duration: 60s
slo: {latency: 100ms, deadline: 300ms, try_timeout: 80ms}
endpoints:
  - {capacity: 400, latency: 5ms, group: v1}
  - {capacity: 400, latency: 5ms, group: v1}
  - {capacity: 400, latency: 5ms, group: v2}
routes: {v1: 90, v2: 10}
load: [{at: 0s, rate: 500}]
"""


def test_scaled_stretches_the_timeline_and_the_rates_but_not_service_times() -> None:
    sc = loads(GRAY)
    s = scaled(sc, time_scale=0.25, rate_scale=0.5)
    assert s.duration == 30.0
    assert [(st.at, st.rate, st.ramp_to) for st in s.load] == [(0.0, 150.0, None), (15.0, 450.0, 600.0)]
    ep = s.endpoints[1]
    assert ep.capacity == 200.0 and ep.latency == sc.endpoints[1].latency
    assert [e.at for e in ep.events] == [7.5, 15.0, 22.5]
    assert ep.events[1].capacity == 50.0
    assert s.cache is not None and s.cache.events == ((15.0, 1.0),) and s.cache.update_interval == 10.0
    assert s.slo == sc.slo
    assert s.rate_at(15.0 + 7.5) == pytest.approx(sc.rate_at(90.0) * 0.5)
    assert scaled(sc) is sc
    with pytest.raises(ValueError, match="time scale"):
        scaled(sc, time_scale=0)


def test_endpoint_state_applies_every_event_up_to_t() -> None:
    ep = loads(GRAY).endpoints[1]
    assert endpoint_state(ep, 0.0) == endpoint_state(ep, 29.9)
    assert endpoint_state(ep, 29.9).latency == 0.005
    s = endpoint_state(ep, 75.0)
    assert (s.latency, s.capacity, s.down) == (0.060, 100.0, False)
    assert endpoint_state(ep, 90.0).down


def test_key_versions_are_seeded_monotone_and_follow_the_update_rate() -> None:
    cache = loads(GRAY).cache
    assert cache is not None
    a, b = Updates(cache, 120.0, seed=7), Updates(cache, 120.0, seed=7)
    assert [a.version(k, 100.0) for k in range(50)] == [b.version(k, 100.0) for k in range(50)]
    assert all(a.version(k, 0.0) == 0 for k in range(50))
    assert all(a.version(k, 30.0) <= a.version(k, 31.0) for k in range(50))
    # 50 keys updated every 10 s on average for 60 s, then every 1 s for 60 s: ~300 then ~3000 updates
    first = sum(a.version(k, 60.0) for k in range(50))
    second = sum(a.version(k, 120.0) for k in range(50)) - first
    assert 200 < first < 400
    assert 2600 < second < 3400


def _validated(policy: dict[str, object]) -> config_pb2.Policy:
    msg = fill(config_pb2.Policy(), policy)
    policy_from_proto(msg)  # the sidecar's own validation: raises on a bad field
    return msg


def test_policy_is_valid_sidecar_policy_and_reads_back() -> None:
    sc = loads(GRAY)
    params = Params(concurrency=64, eject_after=3, eject_time=10.0, attempts=2, retry_budget=0.2, cache_ttl=2.5,
                    lb="peak_ewma")  # fmt: skip
    pol = policies.policy(sc, params, ["127.0.0.1:1", "127.0.0.1:2"])
    msg = _validated(pol)
    back = json_format.MessageToDict(msg, preserving_proto_field_name=True)
    assert policies.params_of(sc, back) == params
    route = msg.route_tables[0].routes[0]
    assert msg.route_tables[0].name == "inbound" and route.cluster == "v1"
    assert route.retry.per_try_timeout.ToMilliseconds() == 100 and route.timeout.ToMilliseconds() == 200
    assert msg.clusters[0].limits.reject_code == "RESOURCE_EXHAUSTED"  # a rejection is not retried
    assert [r.method for r in msg.cache] == [policies.METHOD]
    no_cache = policies.policy(sc, replace(params, cache_ttl=0.0), ["a:1", "a:2"])
    assert "cache" not in no_cache and policies.params_of(sc, no_cache).cache_ttl == 0.0


def test_policy_splits_groups_by_canary_weight_or_the_scenario_routes() -> None:
    sc = loads(CANARY)
    addresses = ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]
    msg = _validated(policies.policy(sc, DEFAULT, addresses))
    split = {w.cluster: w.weight for w in msg.route_tables[0].routes[0].clusters}
    assert split == {"v1": 900, "v2": 100}
    assert [len(c.endpoints) for c in msg.clusters] == [2, 1]
    moved = policies.policy(sc, replace(DEFAULT, canary_weight=0.05, attempts=1), addresses)
    assert policies.params_of(sc, moved).canary_weight == pytest.approx(0.05)
    assert policies.params_of(sc, moved).attempts == 1
    assert "cache" not in moved
    with pytest.raises(ValueError, match="3 endpoints"):
        policies.policy(sc, DEFAULT, addresses[:2])


def test_policy_with_the_adaptive_limit_is_valid() -> None:
    msg = _validated(policies.policy(loads(CANARY), DEFAULT, ["a:1", "a:2", "a:3"], adaptive=True))
    assert all(c.HasField("adaptive_concurrency") for c in msg.clusters)


def _window(second: int, offered: int, good: int, errors: int = 0, stale: int = 0, latency: float = 0.01) -> Window:
    w = Window(second, offered=offered, ok=offered - errors, good=good, errors=errors, stale=stale)
    for _ in range(offered):
        w.histogram.record(latency)
    return w


def test_summarise_counts_like_the_simulator() -> None:
    sc = replace(loads(CANARY), duration=4.0)
    windows = [_window(0, 100, 100), _window(1, 100, 50, errors=20), _window(2, 100, 100, stale=10),
               _window(3, 100, 100), _window(4, 0, 0)]  # fmt: skip
    changed = replace(DEFAULT, concurrency=512)
    r = summarise("x", sc, windows, [DEFAULT, DEFAULT, changed, changed])
    assert r.goodput == pytest.approx(350 / 4.0)
    assert r.good_ratio == pytest.approx(350 / 400)
    assert r.error_rate == pytest.approx(20 / 400)
    assert r.staleness == pytest.approx(10 / 400)
    assert r.good_series == (1.0, 0.5, 1.0, 1.0)
    assert r.changes == 1 and r.final == changed
    assert r.p50 == pytest.approx(0.01, rel=0.05)
    obs = observation(windows[1], sc)
    assert (obs.offered, obs.good, obs.errors, obs.calls, obs.inflight) == (100, 50, 20, 100, 1)


def test_a_scaled_scenario_written_out_reads_back_the_same() -> None:
    import yaml

    from benchmarks.scenario_run.timeline import to_dict
    from engines.tune.scenario import from_dict

    for text in (GRAY, CANARY):
        s = scaled(loads(text), time_scale=0.5, rate_scale=0.25)
        assert from_dict(yaml.safe_load(yaml.safe_dump(to_dict(s)))) == s
