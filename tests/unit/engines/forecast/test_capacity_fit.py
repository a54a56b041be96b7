"""The queueing-curve fit on known answers, the demand series, and the shortage taking the lowest capacity."""

from __future__ import annotations

import numpy as np
import pytest

from engines.forecast import capacity, predict
from engines.forecast.predict import SHORTAGE, Rules


def curve(mu: float, k: int, w0: float, n: int, noise: float, seed: int, top: float = 0.97) -> tuple[np.ndarray, ...]:
    """(rates, latencies) on W0 / (1 - (λ/μ)^k) with log-normal noise, rates up to `top` x μ."""
    rng = np.random.default_rng(seed)
    rates = rng.uniform(0.05, top, n) * mu
    return rates, w0 / (1 - (rates / mu) ** k) * np.exp(rng.normal(0, noise, n))


@pytest.mark.parametrize("seed", range(6))
def test_mm1_capacity_recovered_within_its_interval(seed: int) -> None:
    mu = 120.0  # M/M/1: mean latency 1 / (μ - λ) = (1/μ) / (1 - λ/μ)
    rates, w = curve(mu, 1, 1 / mu, 150, 0.1, seed)
    f = capacity.queue_fit(rates, w)
    assert f is not None
    assert f.lower <= mu <= f.upper and f.lower <= f.capacity <= f.upper, f
    assert abs(f.capacity / mu - 1) < 0.03 and f.k <= 3 and abs(f.baseline * mu - 1) < 0.1, f
    assert f.capacity > rates.max() and f.climbing >= 2 and f.points == 150


def test_a_sharp_curve_gives_a_large_k_and_a_tight_interval() -> None:
    rates, w = curve(40.0, 16, 0.05, 120, 0.05, seed=7, top=0.99)
    f = capacity.queue_fit(rates, w)
    assert f is not None and f.k >= 8 and f.lower <= 40.0 <= f.upper and f.upper - f.lower < 4, f
    assert "capacity ~40" in f.evidence() and "k=" in f.evidence()


@pytest.mark.parametrize(("noise", "n"), [(0.0, 60), (0.02, 120), (0.1, 60), (0.3, 240)])
def test_flat_latency_gives_no_capacity(noise: float, n: int) -> None:
    rng = np.random.default_rng(11)
    rates = rng.uniform(5, 100, n)
    assert capacity.queue_fit(rates, 0.05 * np.exp(rng.normal(0, noise, n))) is None


def test_a_noisy_knee_with_outliers_is_found() -> None:
    rng = np.random.default_rng(5)
    rates, w = curve(400.0, 12, 0.02, 200, 0.15, seed=5, top=0.985)
    slow = rng.choice(200, 6, replace=False)  # garbage-collection pauses at any load
    w[slow] *= 4
    f = capacity.queue_fit(rates, w)
    assert f is not None and f.lower <= 400.0 <= f.upper and abs(f.capacity / 400 - 1) < 0.05, f


def test_one_slow_second_at_the_busiest_load_is_not_a_curve() -> None:
    rng = np.random.default_rng(3)
    rates = rng.uniform(5, 100, 80)
    w = 0.05 * np.exp(rng.normal(0, 0.02, 80))
    w[np.argmax(rates)] = 0.5
    assert capacity.queue_fit(rates, w) is None
    w[np.argsort(rates)[-2]] = 0.3  # a second one next to it: the turn has support
    assert capacity.queue_fit(rates, w) is not None


def test_a_curve_seen_only_far_below_capacity_is_not_bounded() -> None:
    rates, w = curve(100.0, 1, 0.01, 100, 0.1, seed=2, top=0.3)  # latency up ~40% at most: μ unbounded
    assert capacity.queue_fit(rates, w) is None


def test_fit_input_errors_and_too_few_points() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        capacity.queue_fit(np.ones(30), np.ones(29))
    with pytest.raises(ValueError, match="max_ratio"):
        capacity.queue_fit(np.ones(30), np.ones(30), max_ratio=1.0)
    rates, w = curve(100.0, 1, 0.01, 19, 0.05, seed=1)
    assert capacity.queue_fit(rates, w) is None
    assert capacity.queue_fit(np.r_[rates, np.nan], np.r_[w, 1.0], min_points=20) is None  # NaN not counted


def test_demand_is_started_calls_or_completions_plus_in_flight_growth() -> None:
    rates = np.array([40.0, 40, 40, 40])
    in_flight = np.array([2.0, 6, 14, 10])
    assert capacity.demand(rates, in_flight, None, 1).tolist() == [40.0, 44, 48, 36]
    assert capacity.demand(rates, in_flight, None, 2).tolist() == [40.0, 42, 44, 38]
    started = np.array([41.0, np.nan, 47, 39])
    assert capacity.demand(rates, in_flight, started, 1).tolist() == [41.0, 44, 47, 39]
    assert capacity.demand(np.array([1.0, 1]), np.array([50.0, 0]), None, 1).tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="differ in length"):
        capacity.demand(rates, in_flight[:3], None, 1)
    with pytest.raises(ValueError, match="resolution"):
        capacity.demand(rates, in_flight, None, 0)


def test_shortage_takes_the_fit_when_it_is_lowest_and_says_so() -> None:
    # a ramp to the capacity whose last three seconds turn up: too few for a knee, enough for the curve
    rates = np.r_[np.linspace(8, 39, 80), 39.5, 40, 39.8]
    w = np.r_[np.full(80, 0.053), 0.068, 0.097, 0.163]
    assert capacity.knee(rates, w) is None
    rules = Rules(min_points=20)
    forecast = np.linspace(39, 60, 20)
    s = predict.shortage("catalog", rates, w, np.zeros(rates.size), forecast, 1, 500.0, rules, little=90.0)
    assert s is not None and s.kind == SHORTAGE
    assert "queueing curve" in s.message and "95%" in s.message, s.message
    ev = s.evidence
    assert ev["capacity"] == ev["fit_capacity"] and ev["little_capacity"] == 90.0
    assert 40.0 < ev["capacity_lower"] <= ev["capacity"] <= ev["capacity_upper"] < 42.0, ev
    assert abs(ev["baseline_p99"] - 0.053) < 0.002 and ev["fit_k"] >= 8
    # the arrivals, beyond the capped completions, make it now
    demand = np.r_[rates[:-3], 45.0, 46.0, 47.0]
    now = predict.shortage("catalog", rates, w, np.zeros(rates.size), forecast, 1, 500.0, rules, demand=demand)
    assert now is not None and now.lead_s == 0 and now.evidence["current"] == 46.0
    little = predict.shortage("catalog", rates, w, np.zeros(rates.size), forecast, 1, 500.0, rules, little=35.0)
    assert little is not None and "Little's law" in little.message and little.evidence["capacity"] == 35.0
