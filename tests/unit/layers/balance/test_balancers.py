"""Balancers: smooth weighted round robin, least request, peak-EWMA, and the panic threshold."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.layers.balance.least_request import LeastRequest, sample
from sidecar.layers.balance.load import EndpointLoad, PeakEwma
from sidecar.layers.balance.peak_ewma import PeakEwmaBalancer
from sidecar.layers.balance.select import candidates
from sidecar.layers.balance.weighted import SmoothWeighted


def loads(*weights: int, rtt: float = 0.01) -> list[EndpointLoad]:
    return [EndpointLoad(f"10.0.0.{i}:1", w, PeakEwma(rtt, 10.0, 0.0)) for i, w in enumerate(weights)]


def test_smooth_weighted_interleaves() -> None:
    eps = loads(5, 1, 1)
    rr = SmoothWeighted()
    picks = [rr.pick(eps, 0.0) for _ in range(7)]
    assert [eps.index(p) for p in picks if p is not None] == [0, 0, 1, 0, 2, 0, 0]


def test_smooth_weighted_equal_weights_is_round_robin_and_follows_membership() -> None:
    eps = loads(1, 1, 1)
    rr = SmoothWeighted()
    assert [eps.index(rr.pick(eps, 0.0)) for _ in range(6)] == [0, 1, 2, 0, 1, 2]  # type: ignore[arg-type]
    assert rr.pick([], 0.0) is None
    assert rr.pick(eps[1:], 0.0) in eps[1:]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=20), min_size=1, max_size=8))
def test_smooth_weighted_picks_exactly_in_proportion_each_cycle(weights: list[int]) -> None:
    eps = loads(*weights)
    rr = SmoothWeighted()
    total = sum(weights)
    counts = Counter(rr.pick(eps, 0.0).address for _ in range(total * 3))  # type: ignore[union-attr]
    assert [counts[e.address] for e in eps] == [3 * w for w in weights]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=10), min_size=2, max_size=6), st.integers(0, 2**32 - 1))
def test_least_request_full_comparison_prefers_the_heaviest_idle_endpoint(weights: list[int], seed: int) -> None:
    """With nothing in flight, the cost (in_flight+1)/weight favours the heaviest endpoint."""
    eps = loads(*weights)
    lr = LeastRequest(random.Random(seed), choices=len(eps))  # full comparison: deterministic preference
    picked = lr.pick(eps, 0.0)
    assert picked is not None and picked.weight == max(weights)


def test_least_request_prefers_fewer_in_flight() -> None:
    eps = loads(1, 1)
    eps[0].in_flight = 5
    lr = LeastRequest(random.Random(1))
    assert all(lr.pick(eps, 0.0) is eps[1] for _ in range(20))


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=2, max_value=10), st.integers(0, 2**32 - 1))
def test_p2c_sample_draws_two_distinct_uniformly(n: int, seed: int) -> None:
    eps = loads(*([1] * n))
    rng = random.Random(seed)
    seen: Counter[str] = Counter()
    for _ in range(200 * n):
        a, b = sample(eps, 2, rng)
        assert a is not b
        seen[a.address] += 1
        seen[b.address] += 1
    expected = 400  # each endpoint is in 2/n of the pairs: 200n * 2/n
    assert all(0.7 * expected < seen[e.address] < 1.3 * expected for e in eps)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.lists(st.integers(1, 5), min_size=2, max_size=5))
def test_least_request_under_load_spreads_in_proportion_to_weight(seed: int, weights: list[int]) -> None:
    """Calls that stay in flight: choices balance (in_flight+1)/weight, so in-flight ∝ weight."""
    eps = loads(*weights)
    lr = LeastRequest(random.Random(seed), choices=len(eps))
    total = sum(weights) * 20
    for _ in range(total):
        picked = lr.pick(eps, 0.0)
        assert picked is not None
        picked.in_flight += 1
    for e in eps:
        assert abs(e.in_flight - 20 * e.weight) <= max(weights)


def test_peak_ewma_estimator_peaks_up_and_decays_down() -> None:
    ewma = PeakEwma(default_rtt=0.03, decay=10.0, now=0.0)
    assert ewma.observe(0.5, 1.0) == 0.5  # peak: jumps at once
    after = ewma.observe(0.01, 11.0)  # one decay time later: ~63% of the way down
    assert after == pytest.approx(0.5 * 0.36788 + 0.01 * 0.63212, rel=1e-3)
    assert ewma.current(1000.0) < 1e-6  # idle: decays toward zero


def test_peak_ewma_balancer_avoids_the_slow_endpoint() -> None:
    eps = loads(1, 1, 1)
    rng = random.Random(3)
    bal = PeakEwmaBalancer(rng)
    now = 0.0
    counts: Counter[int] = Counter()
    for _ in range(3000):
        now += 0.001
        picked = bal.pick(eps, now)
        assert picked is not None
        index = eps.index(picked)
        counts[index] += 1
        picked.ewma.observe(0.1 if index == 0 else 0.01, now)  # endpoint 0 is 10x slower
    assert counts[0] / 3000 < 0.05


def test_peak_ewma_weighs_in_flight() -> None:
    eps = loads(1, 1)
    eps[0].in_flight = 3  # same latency, more in flight
    bal = PeakEwmaBalancer(random.Random(0))
    assert all(bal.pick(eps, 0.0) is eps[1] for _ in range(10))
    assert bal.pick(eps[:1], 0.0) is eps[0] and bal.pick([], 0.0) is None


def test_candidates_skip_unavailable_and_panic_below_threshold() -> None:
    eps = list(range(10))
    ok, panic = candidates(eps, lambda e: e != 3, 50.0)
    assert ok == [e for e in eps if e != 3] and not panic
    ok, panic = candidates(eps, lambda e: e < 4, 50.0)  # 40% available < 50%: panic
    assert ok == eps and panic
    ok, panic = candidates(eps, lambda e: False, 0.0)  # panic disabled: nothing to pick
    assert ok == [] and not panic
    assert candidates([], lambda e: True, 50.0) == ([], False)
