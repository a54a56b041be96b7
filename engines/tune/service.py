"""The tuned controller for one real service (pure): the core Tuner, shaped by the service's strategy,
the bookkeeping of a canary trial on the mesh (which version, against which, with what evidence), and
the runner's state of the service (`ServiceState`).

`ServiceTuner` is engines.tune.tuner.Tuner built from a Strategy instead of a scenario: the agent's
actions are masked to the parameters the strategy tunes *and* the policy has (policy_map.available),
the gate's bounds are the strategy's for those and the current value for every other parameter
(`sync`, before each decision), its step and rate limits and the trial length are the strategy's,
and the balancer bandit runs only when the strategy tunes `lb`.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from apex.mesh.v1 import control_pb2

from engines.tune import policy_map
from engines.tune.agent import ACTIONS, Bandit, QAgent
from engines.tune.params import LB_POLICIES, Bounds, Params
from engines.tune.safety import Limits
from engines.tune.strategy import Strategy
from engines.tune.tuner import Tuner

NEVER = 10**9


def seed_for(service: str, seed: int = 0) -> int:
    """A stable per-service seed (so two services do not explore in lockstep)."""
    return seed + int.from_bytes(hashlib.sha256(service.encode()).digest()[:4], "big")


def mask(strategy: Strategy, available: frozenset[str]) -> np.ndarray:
    tuned = set(strategy.params) & available
    return np.array([a.param is None or a.param in tuned for a in ACTIONS], dtype=bool)


class ServiceTuner(Tuner):
    def __init__(self, strategy: Strategy, available: frozenset[str], *, seed: int = 0, shadow: bool = False,
                 agent: QAgent | None = None, bandit: Bandit | None = None) -> None:  # fmt: skip
        self.agent = agent or QAgent(seed=seed, epsilon=strategy.epsilon)
        self.bandit = bandit or Bandit(9, len(LB_POLICIES), seed=seed + 7)
        self.shadow = shadow
        self.bounds, self.limits = Bounds(), Limits()
        self.routes: dict[str, float] = {}
        self.canary_group = ""
        self.available = available
        self.strategy = strategy
        self.reset()
        self.configure(strategy, available)

    def configure(self, strategy: Strategy, available: frozenset[str]) -> None:
        """Apply a (new) strategy: mask, exploration, limits, trial length, the bandit's cadence."""
        self.strategy, self.available = strategy, available
        self.agent.mask = mask(strategy, available)
        self.agent.epsilon = strategy.epsilon
        self.limits = self.gate.limits = Limits(max_step=strategy.max_step, min_interval=strategy.min_interval)
        self.trial_windows = strategy.trial_windows
        self.has_canary = "canary_weight" in available
        self.bandit_every = 10 if "lb" in strategy.params and "lb" in available else NEVER

    def sync(self, current: Params) -> None:
        """Before a decision: bounds are the strategy's for its parameters, `current`'s for the rest."""
        self.bounds = self.gate.bounds = self.strategy.bounds(current)


@dataclass(slots=True)
class Trial:
    """A change rolled out to a canary share: `candidate` against `stable`, and what was measured."""

    action: str
    before: Params
    after: Params
    candidate: int  # the new version (rollout < 100)
    stable: int  # the version it is compared with, and rolled back to
    started: float
    paths: dict[str, str]
    applied: bool = False  # a window from the candidate version has arrived
    last_seen: float = 0.0  # when the last one did
    canary_reward: list[float] = field(default_factory=list)
    control_reward: list[float] = field(default_factory=list)
    canary_good: list[float] = field(default_factory=list)
    control_good: list[float] = field(default_factory=list)
    instances: set[str] = field(default_factory=set)
    baseline_reward: list[float] = field(default_factory=list)  # windows before the change
    baseline_good: list[float] = field(default_factory=list)

    def evidence(self) -> dict[str, float | None]:
        """Mean reward and goodput before (control group, else the windows before) and after (canary)."""
        before_r = self.control_reward or self.baseline_reward
        before_g = self.control_good or self.baseline_good
        return {
            "reward_before": mean(before_r), "reward_after": mean(self.canary_reward),
            "goodput_before": mean(before_g), "goodput_after": mean(self.canary_good),
        }  # fmt: skip


def mean(xs: list[float] | deque[float]) -> float | None:
    """Rounded to 4 places; None for no values."""
    return round(float(np.mean(xs)), 4) if len(xs) else None


@dataclass
class ServiceState:
    """What the runner knows of one service: its tuner, strategy, latest policy, trial and recent seconds."""

    name: str
    tuner: ServiceTuner
    strategy: Strategy
    record: control_pb2.PolicyRecord | None = None
    targets: policy_map.Targets | None = None
    params: Params = field(default_factory=Params)
    trial: Trial | None = None
    last_second: int = -1
    model_version: int = 0
    refreshed: float = 0.0
    recent_reward: deque[float] = field(default_factory=lambda: deque(maxlen=10))
    recent_good: deque[float] = field(default_factory=lambda: deque(maxlen=10))
    skipped: str = ""  # why it is not tuned now ("" = it is)
    orphans: set[int] = field(default_factory=set)  # orphaned canaries already rolled back (or tried)

    def view(self) -> dict[str, Any]:
        """The service in the engine's status document (`apex tune show`)."""
        trial = self.trial
        return {"model_version": self.model_version, "last_second": self.last_second, "skipped": self.skipped,
                "frozen": self.strategy.frozen, "params": _params(self.params),
                "trial": None if trial is None else {"version": trial.candidate, "stable": trial.stable,
                                                     "action": trial.action}}  # fmt: skip


def _params(p: Params) -> dict[str, Any]:
    return {"concurrency": p.concurrency, "eject_after": p.eject_after, "attempts": p.attempts,
            "retry_budget": p.retry_budget, "cache_ttl": p.cache_ttl, "canary_weight": p.canary_weight,
            "lb": p.lb}  # fmt: skip
