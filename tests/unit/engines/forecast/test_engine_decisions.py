"""Knee detection, shortage lead time, degradation, profile, spike; action, revert and rate-limit decisions."""

from __future__ import annotations

import numpy as np
import pytest
from apex.mesh.v1 import config_pb2

from engines.forecast import actions, capacity, predict
from engines.forecast.predict import SHORTAGE, SPIKE, Prediction, Rules


def knee_data(cap: float = 400.0, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rates = rng.uniform(20, 500, 300)
    p99 = 0.02 + np.where(rates > cap, (rates - cap) * 0.002, 0.0) + rng.normal(0, 0.001, rates.size)
    return rates, p99


def test_knee_found_near_the_load_where_latency_climbs() -> None:
    rates, p99 = knee_data(400.0)
    k = capacity.knee(rates, p99)
    assert k is not None and k.cause == "latency"
    assert 380 <= k.rate <= 460, k
    assert abs(k.baseline_p99 - 0.02) < 0.003


def test_no_knee_on_flat_latency_and_rejections_reveal_one() -> None:
    rng = np.random.default_rng(2)
    rates = rng.uniform(10, 300, 200)
    p99 = 0.02 + rng.normal(0, 0.001, rates.size)
    assert capacity.knee(rates, p99) is None
    rejected = np.where(rates > 250, rates * 0.1, 0.0)
    k = capacity.knee(rates, p99, rejected)
    assert k is not None and k.cause == "rejections" and 250 <= k.rate <= 265


def test_crossing_lead_times() -> None:
    f = np.array([100.0, 200, 300, 400, 500])
    assert capacity.crossing(f, 350, 60) == 240.0
    assert capacity.crossing(f, 999, 60) is None
    assert capacity.crossing(f, 350, 60, current=360) == 0.0
    t = np.arange(10.0)
    assert abs(capacity.trend_crossing(t, 0.1 + 0.01 * t, 0.2, 100) - 1.0) < 1e-9  # type: ignore[operator]
    assert capacity.trend_crossing(t, 0.1 - 0.01 * t, 0.2, 100) is None
    assert capacity.little_capacity(40, 0.1) == 400.0 and capacity.little_capacity(0, 0.1) is None


def test_shortage_predicted_with_lead_time_from_the_knee() -> None:
    rates, p99 = knee_data(400.0)
    recent = np.concatenate([rates, np.full(3, 300.0)])
    p = np.concatenate([p99, np.full(3, 0.02)])
    fc = np.linspace(320, 620, 30)  # per minute, +10.3/min: crosses ~400 around step 8
    s = predict.shortage("catalog", recent, p, np.zeros(recent.size), fc, 60, 1000.0, Rules())
    assert s is not None and s.kind == SHORTAGE
    assert 6 * 60 <= s.lead_s <= 12 * 60, s
    assert s.message.startswith("catalog reaches its capacity (~") and " min: p99 climbs from 20 ms" in s.message
    assert s.at == 1000.0 + s.lead_s and s.priority == "HIGH"
    assert predict.shortage("catalog", recent, p, np.zeros(recent.size), np.full(30, 300.0), 60, 0, Rules()) is None


def test_spike_predicted_from_either_forecast_and_not_on_flat() -> None:
    hist = np.full(60, 10.0)
    slow = np.linspace(10, 40, 30)
    s = predict.spike("shop", hist, slow, np.zeros(0), 60, 0.0, Rules(spike_k=2.0))
    assert s is not None and s.kind == SPIKE and s.lead_s == 60 * int(np.argmax(slow >= 20) + 1)
    fast = np.array([12.0, 25.0])
    assert predict.spike("shop", hist, slow, fast, 60, 0.0, Rules()).lead_s == 120  # type: ignore[union-attr]
    assert predict.spike("shop", hist, np.full(30, 12.0), np.zeros(0), 60, 0.0, Rules()) is None


def test_degradation_when_p99_trend_heads_for_the_slo() -> None:
    t = np.arange(20.0) * 60
    p99 = 0.1 + 0.01 * np.arange(20)  # 0.29 now, +0.01/min -> 0.5 in ~21 min
    d = predict.degradation("shop", t, p99, np.zeros(20), 3600, 0.0, Rules(slo_p99=0.5))
    assert d is not None and 19 * 60 <= d.lead_s <= 23 * 60 and "p99" in d.message
    assert predict.degradation("shop", t, np.full(20, 0.1), np.zeros(20), 3600, 0.0, Rules()) is None


def test_profile_finds_peak_hours() -> None:
    t = np.arange(0, 14 * 86400, 3600, dtype=np.int64)
    hour = (t // 3600) % 24
    rates = 100 + 50 * np.exp(-((hour - 14) ** 2) / 4.0)
    p = predict.profile(t, rates)
    assert p.peak_hours[0] == 14 and set(p.peak_hours) == {13, 14, 15}
    assert len(p.weekly) == 7 and p.points == t.size


def policy() -> config_pb2.Policy:
    pol = config_pb2.Policy()
    t = pol.route_tables.add(name="inbound")
    r = t.routes.add(name="all")
    r.clusters.add(cluster="blue", weight=4)
    r.clusters.add(cluster="green", weight=4)
    r.rate_limit.requests_per_second = 100
    for name in ("blue", "green"):
        pol.clusters.add(name=name).limits.max_requests = 10
    rule = pol.cache.add(name="q", method="/a.B/C")
    rule.ttl.FromSeconds(5)
    return pol


def pred(kind: str, lead: float = 60.0, now: float = 0.0, **evidence: float) -> Prediction:
    return Prediction(kind, "shop", now, lead, "HIGH", f"{kind} predicted", dict(evidence))


def test_spike_raises_caps_rate_limits_and_ttls_then_reverts() -> None:
    f = actions.facts(policy())
    planner = actions.Planner(actions.ActionRules(hold_s=30))
    todo = planner.plan("shop", pred(SPIKE), f, 0.0)
    assert {(a.path, a.value) for a in todo} == {
        ("clusters[blue].limits.max_requests", "15"), ("clusters[green].limits.max_requests", "15"),
        ("route_tables[inbound].routes[all].rate_limit.requests_per_second", "150"), ("cache[q].ttl", "10s"),
    }  # fmt: skip
    assert all("spike predicted" in a.reason and a.correlation_id == todo[0].correlation_id for a in todo)
    assert planner.plan("shop", pred(SPIKE, now=50.0), f, 50.0) == []  # renewed, not repeated
    assert planner.due(100.0) == [] and planner.due(141.0) == [("shop", SPIKE)]
    after = config_pb2.Policy()
    after.CopyFrom(policy())
    after.clusters[0].limits.max_requests = 15
    after.clusters[1].limits.max_requests = 99  # someone else changed it since: left alone
    after.route_tables[0].routes[0].rate_limit.requests_per_second = 150
    after.cache[0].ttl.FromSeconds(10)
    back = planner.reverts("shop", SPIKE, actions.facts(after))
    assert {(a.path, a.value) for a in back} == {
        ("clusters[blue].limits.max_requests", "10"),
        ("route_tables[inbound].routes[all].rate_limit.requests_per_second", "100"), ("cache[q].ttl", "5s"),
    }  # fmt: skip
    assert all(a.revert for a in back) and planner.episodes == {}


def test_shortage_tightens_caps_and_enables_stale_if_error_degradation_shifts_weight() -> None:
    f = actions.facts(policy())
    todo = actions.changes_for(pred(SHORTAGE), f, actions.ActionRules())
    assert ("clusters[blue].limits.max_requests", "10", "8") in todo
    assert ("cache[q].stale_if_error", "0s", "30s") in todo
    deg = actions.changes_for(pred("degradation"), f, actions.ActionRules(), degrading="green")
    assert ("route_tables[inbound].routes[all].clusters[1].weight", "4", "2") in deg
    assert not any("clusters[0].weight" in c[0] for c in deg)


def test_shortage_without_a_cap_sets_one_by_littles_law() -> None:
    pol = policy()
    pol.clusters[0].limits.ClearField("max_requests")
    f = actions.facts(pol)
    todo = actions.changes_for(pred(SHORTAGE, capacity=400, baseline_p99=0.05), f, actions.ActionRules())
    assert ("clusters[blue].limits.max_requests", "null", "40") in todo  # 400/s x 0.05 s x 2 headroom


def test_a_cap_set_from_a_small_capacity_keeps_a_floor() -> None:
    # the demo's frontend: 5 calls/s x 0.1 s = 0.5 in flight used to become "cap null -> 1"
    pol = policy()
    pol.clusters[0].limits.ClearField("max_requests")
    f = actions.facts(pol)
    todo = actions.changes_for(pred(SHORTAGE, capacity=5, baseline_p99=0.1), f, actions.ActionRules())
    assert ("clusters[blue].limits.max_requests", "null", "4") in todo
    with pytest.raises(ValueError, match="new_cap_headroom"):
        actions.ActionRules(new_cap_headroom=0.5)


def test_rate_limit_refuses_an_episode_over_the_budget() -> None:
    planner = actions.Planner(actions.ActionRules(max_changes=5, per_s=100, hold_s=0))
    f = actions.facts(policy())
    assert len(planner.plan("shop", pred(SPIKE), f, 0.0)) == 4
    planner.reverts("shop", SPIKE, f)
    assert planner.plan("shop", pred(SPIKE, now=10), f, 10.0) == [] and planner.limited == 4
    assert len(planner.plan("shop", pred(SPIKE, now=101), f, 101.0)) == 4  # budget back after per_s
