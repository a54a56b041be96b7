"""Run a controller through a scenario in the simulator, summarise it, and find the oracle by grid search.

Summary figures (over the whole run):
- goodput: calls OK within the SLO per second; good_ratio: the same over offered calls;
- p50/p99: from the run's merged latency histogram (apex.mesh.contract.histogram, 4.4% error);
- error_rate: errors (endpoint errors, deadlines, rejections) over calls;
- staleness: stale cache hits over offered calls;
- time_to_adapt: for each disturbance (load step, endpoint or cache event), seconds until a 1 s
  window's good ratio first comes within 0.05 of the level it settles at (the mean of the last 5 s
  before the next disturbance); the mean over disturbances, 0 when there are none.
A controller with `control_params()` (the tuner) gets a control group during its canary trials: a
copy of the simulator, forked when the trial starts, runs the old setting on the same arrivals, as
the instances outside the canary share would on the mesh; its window goes to `decide(..., control)`.
It is not counted in the results.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import numpy as np
from apex.mesh.contract.histogram import Histogram

from engines.tune import reward as rewards
from engines.tune.baselines import Controller, Static
from engines.tune.params import DEFAULT, LB_POLICIES, Params
from engines.tune.scenario import Scenario
from engines.tune.sim import Simulator


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    goodput: float
    good_ratio: float
    p50: float
    p99: float
    error_rate: float
    staleness: float
    time_to_adapt: float
    reward: float  # mean reward per second
    changes: int
    final: Params
    good_series: tuple[float, ...]  # good ratio per second


def run(scenario: Scenario, controller: Controller, seed: int | None = None) -> Result:
    sim = Simulator(scenario, interval=controller.interval)
    sim.reset(scenario.seed if seed is None else seed)
    params = controller.start(DEFAULT)
    hist = Histogram()
    totals = np.zeros(6)  # offered, good, calls, errors, stale, reward-sum
    per_second: list[list[int]] = []
    changes = 0
    done = False
    last_change = 0.0
    acc = [0, 0]
    control_sim: Simulator | None = None  # the control group of a running canary trial
    wants_control = getattr(controller, "control_params", None)
    while not done:
        control_params = wants_control() if wants_control is not None else None
        if control_params is None:
            control_sim = None
        elif control_sim is None:
            control_sim = copy.deepcopy(sim)  # same state and random stream: a paired comparison
        obs, done = sim.step(params)
        control = control_sim.step(control_params)[0] if control_sim is not None and control_params else None
        hist.merge(obs.histogram)
        totals += (obs.offered, obs.good, obs.calls, obs.errors, obs.stale, 0)
        r = rewards.reward(obs, last_change) * obs.interval
        totals[5] += r
        acc[0] += obs.offered
        acc[1] += obs.good
        if abs(obs.t - round(obs.t)) < 1e-6:
            per_second.append(acc)
            acc = [0, 0]
        args = (obs, params) if wants_control is None else (obs, params, control)
        new = controller.decide(*args)
        last_change = rewards.churn(params, new)
        if new != params:
            changes += 1
        params = new
    duration = sim.now
    series = tuple(g / o if o else 1.0 for o, g in per_second)
    q = hist.quantiles((50.0, 99.0))
    return Result(
        name=controller.name, goodput=totals[1] / duration, good_ratio=totals[1] / max(totals[0], 1),
        p50=q[50.0], p99=q[99.0], error_rate=totals[3] / max(totals[2], 1), staleness=totals[4] / max(totals[0], 1),
        time_to_adapt=time_to_adapt(series, scenario.disturbances()), reward=totals[5] / duration,
        changes=changes, final=params, good_series=series,
    )  # fmt: skip


def time_to_adapt(series: tuple[float, ...], disturbances: Iterable[float], tolerance: float = 0.05) -> float:
    times = [int(d) for d in disturbances if int(d) < len(series)]
    if not times:
        return 0.0
    out = []
    for i, start in enumerate(times):
        end = times[i + 1] if i + 1 < len(times) else len(series)
        if end - start < 2:
            continue
        settled = float(np.mean(series[max(start, end - 5) : end]))
        k = next((j for j in range(start, end) if abs(series[j] - settled) <= tolerance), end)
        out.append(k - start)
    return float(np.mean(out)) if out else 0.0


GRID: dict[str, tuple[float | int | str, ...]] = {
    "concurrency": (16, 32, 64, 128, 256, 1024),
    "attempts": (1, 2, 3),
    "retry_budget": (0.1, 0.2, 1.0),
    "eject_after": (3, 5, 20),
    "cache_ttl": (0.0, 1.0, 3.0, 10.0, 30.0, 120.0),
    "canary_weight": (0.0, 0.05, 0.1, 0.5),
    "lb": LB_POLICIES,
}


def relevant(scenario: Scenario) -> list[str]:
    names = ["concurrency", "attempts", "retry_budget", "eject_after", "lb"]
    if scenario.cache is not None:
        names.append("cache_ttl")
    if len({e.group for e in scenario.endpoints}) > 1:
        names.append("canary_weight")
    return names


def oracle(scenario: Scenario, seed: int | None = None, passes: int = 2,
           progress: Callable[[str], None] | None = None) -> tuple[Params, Result]:  # fmt: skip
    """The best static configuration with hindsight (same scenario, same seed), by mean reward.

    Coordinate-wise grid search: each pass sweeps one parameter's grid at a time holding the others
    at the best so far (a full product grid is 6*3*3*3*6*4*3 = 23k runs; this is ~2*30).
    """
    best = DEFAULT
    cache: dict[Params, Result] = {}

    def score(p: Params) -> Result:
        if p not in cache:
            cache[p] = run(scenario, Static(p, name="oracle"), seed)
        return cache[p]

    for _ in range(passes):
        for name in relevant(scenario):
            for value in GRID[name]:
                candidate = replace(best, **{name: value})  # type: ignore[arg-type]
                if score(candidate).reward > score(best).reward:
                    best = candidate
        if progress is not None:
            progress(f"oracle pass: {best}")
    return best, score(best)
