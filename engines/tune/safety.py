"""The safety gate (pure): operator bounds, change-rate limits, and canary promotion or rollback with a stated test.

Every proposed configuration passes `Gate.admit(now, current, proposed)`:
1. bounds: each numeric parameter is clamped into the operator's [low, high];
2. size: one change moves a parameter by at most `max_step` of its current value (relative; for a
   value at 0 by at most `max_step` of its bound's range);
3. rate: a parameter changed less than `min_interval` seconds ago keeps its value.
An admitted change is a *trial* (`Canary`): windows under the new setting are compared with a
control group in the same windows (the instances still on the old setting) when there is one, else
with the baseline windows before the change. The test is Welch's t-test on per-window goodput (good / offered):
after `windows` trial windows, the trial is rolled back if the trial's mean is lower with one-sided
p < `alpha`, promoted otherwise. A single trial window whose goodput is more than `regression`
(absolute) below the control's in that window (or the baseline mean) rolls back at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from enum import Enum

import numpy as np

from engines.tune.params import NUMERIC, Bounds, Params
from engines.tune.stats import welch


@dataclass(frozen=True, slots=True)
class Limits:
    max_step: float = 0.5  # largest relative move of one parameter in one change
    min_interval: float = 5.0  # seconds between two changes of one parameter


class Gate:
    """Bounds and change-rate limits; remembers when each parameter last changed."""

    def __init__(self, bounds: Bounds, limits: Limits = Limits()) -> None:
        self.bounds = bounds
        self.limits = limits
        self.last_change: dict[str, float] = {}

    def admit(self, now: float, current: Params, proposed: Params) -> Params:
        proposed = self.bounds.clamp(proposed)
        changes: dict[str, float | int | str] = {}
        for name in NUMERIC:
            old, new = getattr(current, name), getattr(proposed, name)
            if new == old:
                continue
            if now - self.last_change.get(name, -1e18) < self.limits.min_interval:
                continue
            low, high = getattr(self.bounds, name)
            span = self.limits.max_step * (abs(old) if old > 0 else (high - low))
            v = min(max(new, old - span), old + span)
            v = min(max(v, low), high)
            v = round(v) if isinstance(old, int) else float(v)
            if v != old:
                changes[name] = v
                self.last_change[name] = now
        if proposed.lb != current.lb and now - self.last_change.get("lb", -1e18) >= self.limits.min_interval:
            changes["lb"] = proposed.lb
            self.last_change["lb"] = now
        return replace(current, **changes)  # type: ignore[arg-type]


class Verdict(Enum):
    PENDING = "pending"
    PROMOTE = "promote"
    ROLLBACK = "rollback"


@dataclass(slots=True)
class Canary:
    """One trial: baseline goodput windows (before) against trial windows (after the change)."""

    previous: Params
    candidate: Params
    baseline: list[float]
    windows: int = 5
    alpha: float = 0.05
    regression: float = 0.2
    trial: list[float] = field(default_factory=list)
    control: list[float] = field(default_factory=list)
    p_value: float = 1.0
    reason: str = ""

    def observe(self, goodput: float, control: float | None = None) -> Verdict:
        """Add one trial window's goodput ratio (and the control group's in the same window, when there
        is one: then the comparison is concurrent, trial vs control, not trial vs the windows before)."""
        self.trial.append(goodput)
        if control is not None:
            self.control.append(control)
        reference = self.control if self.control else self.baseline
        base = (control if control is not None else float(np.mean(self.baseline))) if reference else goodput
        if goodput < base - self.regression:
            self.reason = f"regression: window goodput {goodput:.3f} < reference {base:.3f} - {self.regression}"
            return Verdict.ROLLBACK
        if len(self.trial) < self.windows:
            return Verdict.PENDING
        if len(reference) < 2:
            self.reason = "promote: no reference to compare with"
            return Verdict.PROMOTE
        result = welch(self.trial, reference)
        self.p_value = result.p_less
        if result.p_less < self.alpha:
            self.reason = f"rollback: Welch t={result.statistic:.2f}, one-sided p={result.p_less:.3f} < {self.alpha}"
            return Verdict.ROLLBACK
        self.reason = f"promote: Welch t={result.statistic:.2f}, one-sided p={result.p_less:.3f}"
        return Verdict.PROMOTE


def changed(a: Params, b: Params) -> list[str]:
    return [f.name for f in fields(a) if getattr(a, f.name) != getattr(b, f.name)]
