"""Simulator sanity: Little's law, capacity, down endpoints, reproducibility, the cache model, the reward."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engines.tune.params import DEFAULT, Params
from engines.tune.reward import churn, reward
from engines.tune.scenario import loads
from engines.tune.sim import Simulator, hit_probability, stale_probability


def scenario(body: str, duration: str = "30s") -> str:
    return f"name: t\nduration: {duration}\nseed: 3\nslo: {{latency: 100ms}}\n{body}"


STEADY = scenario("endpoints:\n  - {capacity: 400, latency: 20ms}\n  - {capacity: 400, latency: 20ms}\n"
                  "load:\n  - {at: 0s, rate: 300}\n")  # fmt: skip


def drive(sim: Simulator, params: Params = DEFAULT) -> list:  # type: ignore[type-arg]
    out = []
    done = False
    while not done:
        obs, done = sim.step(params)
        out.append(obs)
    return out


def test_littles_law_holds_roughly() -> None:
    sim = Simulator(loads(STEADY), interval=0.5)
    obs = drive(sim)[4:]
    mean_inflight = np.mean([o.inflight for o in obs])
    calls = sum(o.calls for o in obs)
    throughput = calls / (len(obs) * 0.5)
    mean_latency = sum(o.histogram.sum for o in obs) / sum(o.histogram.count for o in obs)
    assert mean_inflight == pytest.approx(throughput * mean_latency, rel=0.2)
    assert throughput == pytest.approx(300, rel=0.1)


def test_capacity_is_respected_under_overload() -> None:
    sc = loads(scenario("endpoints:\n  - {capacity: 200, latency: 5ms}\nload:\n  - {at: 0s, rate: 1000}\n"))
    obs = drive(Simulator(sc), Params(attempts=1))
    ok = sum(o.ok for o in obs)
    assert ok / sc.duration <= 200 * 1.05
    assert sum(o.errors for o in obs) > 0


def test_a_down_endpoint_returns_errors() -> None:
    sc = loads(scenario("endpoints:\n  - {capacity: 200, latency: 5ms, events: [{at: 0s, down: true}]}\n"
                        "load:\n  - {at: 0s, rate: 100}\n", "10s"))  # fmt: skip
    obs = drive(Simulator(sc))
    assert sum(o.good for o in obs) == 0
    assert sum(o.errors for o in obs) >= 0.95 * sum(o.offered for o in obs) > 0


def test_the_cap_rejects_beyond_it() -> None:
    obs = drive(Simulator(loads(STEADY)), Params(concurrency=1))
    assert sum(o.rejected for o in obs) > 0
    assert max(o.inflight for o in obs) <= 2  # sampled at window ends; a tick's calls may overlap by one


def test_seeded_runs_are_reproducible() -> None:
    a = [(o.offered, o.good, o.p99, o.inflight) for o in drive(Simulator(loads(STEADY)))]
    b = [(o.offered, o.good, o.p99, o.inflight) for o in drive(Simulator(loads(STEADY)))]
    sim = Simulator(loads(STEADY))
    sim.reset(seed=99)
    c = [(o.offered, o.good, o.p99, o.inflight) for o in drive(sim)]
    assert a == b and a != c


def test_slow_endpoint_raises_the_tail_and_peak_ewma_avoids_it() -> None:
    body = ("endpoints:\n  - {capacity: 400, latency: 5ms}\n  - {capacity: 400, latency: 5ms, events: [{at: 0s, "
            "latency: 80ms}]}\nload:\n  - {at: 0s, rate: 300}\n")  # fmt: skip
    rr = drive(Simulator(loads(scenario(body))), Params(eject_after=50))  # slow, never failing: not ejected
    ewma = drive(Simulator(loads(scenario(body))), Params(eject_after=50, lb="peak_ewma"))
    assert sum(o.good for o in ewma) > sum(o.good for o in rr)


def test_cache_model() -> None:
    shares = np.full(10, 0.1)
    assert hit_probability(shares, 100.0, 0.0) == 0.0
    assert hit_probability(shares, 100.0, 1.0) == pytest.approx(10 / 11)  # l*T = 10 per key
    assert stale_probability(10.0, 10.0) == pytest.approx(math.exp(-1))
    assert stale_probability(1.0, 100.0) < stale_probability(10.0, 100.0)
    sc = loads(scenario("endpoints:\n  - {capacity: 400, latency: 5ms}\nload:\n  - {at: 0s, rate: 300}\n"
                        "cache: {keys: 100, zipf: 1.0, update_interval: 2s}\n", "10s"))  # fmt: skip
    short = drive(Simulator(sc), Params(cache_ttl=0.5))
    long = drive(Simulator(sc), Params(cache_ttl=20.0))
    assert sum(o.cache_hits for o in long) > sum(o.cache_hits for o in short)
    assert sum(o.stale for o in long) > sum(o.stale for o in short)


def test_reward_terms() -> None:
    obs = drive(Simulator(loads(STEADY)))[5]
    r = reward(obs)
    assert 0.9 <= r <= 1.0
    assert reward(obs, change=1.0) < r
    assert churn(DEFAULT, DEFAULT) == 0.0
    assert churn(DEFAULT, Params(concurrency=512)) == pytest.approx(0.5)
    assert churn(DEFAULT, Params(lb="peak_ewma")) == 1.0


def test_120_simulated_seconds_are_fast_enough_to_count_calls() -> None:
    sc = loads(scenario("endpoints:\n  - {capacity: 400, latency: 5ms}\n  - {capacity: 400, latency: 5ms}\n"
                        "load:\n  - {at: 0s, rate: 600}\n", "120s"))  # fmt: skip
    obs = drive(Simulator(sc))
    assert len(obs) == 120 and obs[-1].t == pytest.approx(120.0)
    assert sum(o.offered for o in obs) == pytest.approx(72_000, rel=0.02)
