"""Safety gate against an adversarial proposer: bounds, change-rate limits, canary rollback; test statistics."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from engines.tune.agent import ACTIONS
from engines.tune.params import NUMERIC, Bounds, Params
from engines.tune.run import run
from engines.tune.safety import Canary, Gate, Limits, Verdict
from engines.tune.scenario import loads
from engines.tune.stats import betainc, t_cdf, two_proportions, welch
from engines.tune.tuner import Tuner

BOUNDS = Bounds(concurrency=(16, 256), attempts=(1, 3), cache_ttl=(0.0, 60.0))


def test_adversarial_proposals_never_leave_bounds_and_respect_rate_limits() -> None:
    gate = Gate(BOUNDS, Limits(max_step=0.5, min_interval=5.0))
    rng = np.random.default_rng(0)
    current = BOUNDS.clamp(Params())
    last: dict[str, float] = {}
    for step in range(500):
        now = step * 0.5
        wild = Params(
            concurrency=int(rng.choice([-10**9, 0, 10**9])), eject_after=int(rng.integers(-100, 100)),
            eject_time=float(rng.choice([-1e9, 1e9])), attempts=int(rng.integers(-50, 50)),
            retry_budget=float(rng.normal(0, 100)), cache_ttl=float(rng.choice([-1e6, 1e6])),
            canary_weight=float(rng.uniform(0, 50)), lb=str(rng.choice(["round_robin", "peak_ewma"])),
        )  # fmt: skip
        new = gate.admit(now, current, wild)
        assert BOUNDS.contains(new)
        for name in NUMERIC:
            old, value = getattr(current, name), getattr(new, name)
            if value != old:
                assert now - last.get(name, -1e9) >= 5.0, name
                low, high = getattr(BOUNDS, name)
                assert abs(value - old) <= 0.5 * (abs(old) if old > 0 else high - low) + 0.5, name
                last[name] = now
        current = new


def test_canary_regression_rolls_back_at_once() -> None:
    c = Canary(Params(), Params(concurrency=8), baseline=[0.98, 0.99, 0.97, 0.99], windows=5, regression=0.2)
    assert c.observe(0.96) is Verdict.PENDING
    assert c.observe(0.5) is Verdict.ROLLBACK and "regression" in c.reason


def test_canary_promotes_equal_and_rolls_back_a_significant_drop() -> None:
    base = [0.95, 0.97, 0.96, 0.98, 0.96]
    same = Canary(Params(), Params(), baseline=base, windows=3)
    assert [same.observe(g) for g in (0.97, 0.95, 0.96)][-1] is Verdict.PROMOTE
    worse = Canary(Params(), Params(), baseline=base, windows=3)
    assert [worse.observe(g) for g in (0.86, 0.87, 0.85)][-1] is Verdict.ROLLBACK
    assert worse.p_value < 0.05


def test_canary_with_a_control_group_is_not_fooled_by_a_load_change() -> None:
    """Goodput collapses for everyone (a load spike): against the control in the same windows the change
    is not the cause, so it is promoted; against the windows before, it would have been rolled back."""
    base = [0.99, 1.0, 0.99, 1.0]
    paired = Canary(Params(), Params(concurrency=64), baseline=base, windows=2)
    assert [paired.observe(g, c) for g, c in ((0.30, 0.10), (0.35, 0.12))][-1] is Verdict.PROMOTE
    before_after = Canary(Params(), Params(concurrency=64), baseline=base, windows=2)
    assert before_after.observe(0.30) is Verdict.ROLLBACK
    worse = Canary(Params(), Params(concurrency=8), baseline=base, windows=2)
    assert worse.observe(0.2, 0.9) is Verdict.ROLLBACK and "reference 0.900" in worse.reason


def test_tuner_with_an_adversarial_agent_stays_safe_and_rolls_back() -> None:
    """An agent that always wants the cap halved: the gate bounds it, paces it, and the canary undoes it."""
    sc = loads("name: t\nduration: 60s\nseed: 1\nslo: {latency: 100ms}\nendpoints:\n"
               "  - {capacity: 400, latency: 30ms}\n  - {capacity: 400, latency: 30ms}\n"
               "load:\n  - {at: 0s, rate: 500}\n")  # fmt: skip
    bounds = Bounds(concurrency=(4, 2048))
    tuner = Tuner(sc, bounds=bounds, limits=Limits(max_step=0.5, min_interval=3.0), epsilon=0.0, bandit_every=10**6)
    cap_down = [a.name for a in ACTIONS].index("cap_down")
    tuner.agent.q[:, cap_down] = 1e6  # adversarial: always prefers the harmful move
    tuner.agent.alpha = 0.0
    result = run(sc, tuner)
    assert bounds.contains(result.final)
    changes = [d for d in tuner.decisions if d.action == "cap_down"]
    assert all(b.t - a.t >= 3.0 for a, b in itertools.pairwise(changes))
    assert any(d.action == "rollback" for d in tuner.decisions)
    assert all(bounds.contains(d.after) for d in tuner.decisions)


def test_shadow_mode_decides_but_never_changes() -> None:
    sc = loads("name: t\nduration: 20s\nslo: {latency: 100ms}\nendpoints:\n  - {capacity: 400, latency: 5ms}\n"
               "load:\n  - {at: 0s, rate: 100}\n")  # fmt: skip
    tuner = Tuner(sc, epsilon=1.0, shadow=True)
    result = run(sc, tuner)
    assert result.changes == 0 and tuner.decisions


def test_welch_against_hand_worked_values() -> None:
    # a = 1..5 (mean 3, var 2.5), b = 2,4,..,10 (mean 6, var 10): se^2 = 2.5/5 + 10/5 = 2.5,
    # t = -3 / sqrt(2.5) = -1.8974; df = 2.5^2 / (0.5^2/4 + 2^2/4) = 6.25 / 1.0625 = 5.882.
    r = welch([1, 2, 3, 4, 5], [2, 4, 6, 8, 10])
    assert r.statistic == pytest.approx(-3 / math.sqrt(2.5))
    assert r.df == pytest.approx(6.25 / 1.0625)
    assert r.p_two_sided == pytest.approx(0.1075, abs=5e-4)  # t-table: P(|T_5.88| > 1.897)
    assert r.p_less == pytest.approx(r.p_two_sided / 2)


def test_t_and_beta_against_tables() -> None:
    assert t_cdf(2.015, 5) == pytest.approx(0.95, abs=5e-4)  # t_{0.95, 5} = 2.015
    assert t_cdf(2.228, 10) == pytest.approx(0.975, abs=5e-4)  # t_{0.975, 10} = 2.228
    assert t_cdf(0.0, 3) == pytest.approx(0.5)
    assert betainc(1.0, 1.0, 0.3) == pytest.approx(0.3)  # I_x(1, 1) = x
    assert betainc(2.0, 3.0, 0.4) == pytest.approx(0.5248)  # 1 - sum_{j<2} C(4,j) .4^j .6^(4-j)


def test_two_proportion_z_against_hand_worked_values() -> None:
    # 10/100 vs 20/100: pooled 0.15, se = sqrt(.15 * .85 * .02) = 0.050498, z = -0.1 / se = -1.9803
    r = two_proportions(10, 100, 20, 100)
    assert r.statistic == pytest.approx(-1.9803, abs=1e-4)
    assert r.p_two_sided == pytest.approx(0.0477, abs=2e-4)
    assert two_proportions(0, 10, 0, 10).p_two_sided == 1.0
