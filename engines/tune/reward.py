"""The reward of one control interval (pure): goodput minus penalties for errors, tail latency, staleness, churn.

    reward = good/offered
             - W_ERROR * errors/offered
             - W_TAIL  * max(0, p99/slo - 1)          (capped at 2: a p99 at 3x the SLO)
             - W_STALE * stale/offered
             - W_CHURN * churn

All terms are fractions of the interval's offered calls, so rewards compare across load levels: a
perfect interval scores 1.0. `churn` is the number of parameters changed by the last action scaled by
the relative size of each change (see `churn`), so moving a cap by 10% costs 0.1 * W_CHURN.
"""

from __future__ import annotations

from dataclasses import dataclass

from engines.tune.params import NUMERIC, Params
from engines.tune.sim import Observation


@dataclass(frozen=True, slots=True)
class Weights:
    error: float = 0.5
    tail: float = 0.2
    stale: float = 0.5
    churn: float = 0.02


WEIGHTS = Weights()


def churn(before: Params, after: Params) -> float:
    """Sum over parameters of |relative change| (each capped at 1), plus 1 for a balancer change."""
    total = 0.0
    for name in NUMERIC:
        a, b = float(getattr(before, name)), float(getattr(after, name))
        if a != b:
            total += min(abs(b - a) / max(abs(a), abs(b), 1e-9), 1.0)
    return total + (1.0 if before.lb != after.lb else 0.0)


def reward(obs: Observation, change: float = 0.0, w: Weights = WEIGHTS) -> float:
    offered = max(obs.offered, 1)
    tail = min(max(obs.p99 / obs.slo - 1.0, 0.0), 2.0) if obs.calls else 0.0
    return (obs.good / offered - w.error * obs.errors / offered - w.tail * tail
            - w.stale * obs.stale / offered - w.churn * change)  # fmt: skip
