"""Per-service tuning strategies (pure): which parameters, their bounds, exploration, step and rate limits.

A strategy is stored as JSON in Redis (`apex.mesh.contract.tune.strategy_key`) and managed with
`apex tune strategy set|show`, `apex tune freeze|unfreeze`. Presets:

| preset        | epsilon | max_step | min_interval | trial_windows | canary_percent |
|---------------|---------|----------|--------------|---------------|----------------|
| conservative  | 0.02    | 0.25     | 60 s         | 10            | 25             |
| balanced      | 0.10    | 0.50     | 15 s         | 5             | 50             |
| aggressive    | 0.20    | 0.60     | 3 s          | 3             | 50             |

Parameters (`PARAMS`) and their default bounds come from engines.tune.params (`--param NAME` alone
takes them); a strategy tunes a subset, each within [low, high] inside `ALLOWED`. Parameters
outside the strategy are pinned to their current value.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from engines.tune.params import Bounds, Params

# Parameters a strategy may tune: the numeric ones the agent's actions move, and the balancer.
PARAMS = ("concurrency", "eject_after", "attempts", "retry_budget", "cache_ttl", "canary_weight", "lb")
DEFAULT_BOUNDS: dict[str, tuple[float, float]] = {f.name: getattr(Bounds(), f.name) for f in fields(Bounds)}
# The widest bounds an operator may give (what the policy fields and the sidecar accept).
ALLOWED: dict[str, tuple[float, float]] = {
    "concurrency": (1, 1_000_000), "eject_after": (1, 10_000), "eject_time": (0.0, 3600.0), "attempts": (1, 10),
    "retry_budget": (0.0, 1.0), "cache_ttl": (0.0, 86_400.0), "canary_weight": (0.0, 1.0),
}  # fmt: skip
DEFAULT_PARAMS = ("concurrency", "eject_after", "attempts", "retry_budget", "cache_ttl", "canary_weight")


class StrategyError(ValueError):
    """A strategy that cannot be used; the message names the field and the reason."""


@dataclass(frozen=True, slots=True)
class Strategy:
    preset: str = "balanced"
    params: dict[str, tuple[float, float]] = field(default_factory=dict)  # name -> (low, high); lb -> (0, 0)
    epsilon: float = 0.1
    max_step: float = 0.5
    min_interval: float = 15.0
    trial_windows: int = 5
    canary_percent: float = 50.0
    slo: float = 0.1  # seconds: a call is good if it ends OK within this
    frozen: bool = False

    def __post_init__(self) -> None:
        check(self)

    def bounds(self, current: Params) -> Bounds:
        """The gate's bounds: the strategy's for its parameters, the current value for the others."""
        out: dict[str, tuple[float, float]] = {}
        for name in DEFAULT_BOUNDS:
            if name in self.params:
                out[name] = self.params[name]
            else:
                value = float(getattr(current, name))
                out[name] = (value, value) if not (name == "canary_weight" and value < 0) else DEFAULT_BOUNDS[name]
        return Bounds(**out)

    def to_json(self) -> str:
        doc = asdict(self)
        doc["params"] = {k: list(v) for k, v in self.params.items()}
        return json.dumps(doc, sort_keys=True)


PRESETS: dict[str, dict[str, Any]] = {
    "conservative": {"epsilon": 0.02, "max_step": 0.25, "min_interval": 60.0, "trial_windows": 10,
                     "canary_percent": 25.0},
    "balanced": {"epsilon": 0.1, "max_step": 0.5, "min_interval": 15.0, "trial_windows": 5, "canary_percent": 50.0},
    "aggressive": {"epsilon": 0.2, "max_step": 0.6, "min_interval": 3.0, "trial_windows": 3, "canary_percent": 50.0},
}  # fmt: skip


def _num(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise StrategyError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def _n(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def check(s: Strategy) -> None:
    if s.preset not in PRESETS:
        raise StrategyError(f"preset: unknown preset {s.preset!r} (known: {', '.join(PRESETS)})")
    for name, pair in s.params.items():
        if name not in PARAMS:
            raise StrategyError(f"params.{name}: unknown parameter (known: {', '.join(PARAMS)})")
        if name == "lb":
            continue
        low, high = (_num(v, f"params.{name}") for v in pair)
        dlow, dhigh = ALLOWED[name]
        if not low <= high:
            raise StrategyError(f"params.{name}: min {low:g} is above max {high:g}")
        if low < dlow or high > dhigh:
            raise StrategyError(f"params.{name}: bounds {_n(low)}:{_n(high)} leave the allowed range "
                                f"{_n(dlow)}:{_n(dhigh)}")  # fmt: skip
    if not 0.0 <= _num(s.epsilon, "epsilon") <= 1.0:
        raise StrategyError(f"epsilon: must be in [0, 1], got {s.epsilon}")
    if not 0.0 < _num(s.max_step, "max_step") <= 1.0:
        raise StrategyError(f"max_step: must be in (0, 1], got {s.max_step}")
    if _num(s.min_interval, "min_interval") < 0:
        raise StrategyError(f"min_interval: must be >= 0 seconds, got {s.min_interval}")
    if isinstance(s.trial_windows, bool) or not isinstance(s.trial_windows, int) or s.trial_windows < 2:
        raise StrategyError(f"trial_windows: must be an integer >= 2 (Welch's test needs 2), got {s.trial_windows!r}")
    if not 0.0 < _num(s.canary_percent, "canary_percent") < 100.0:
        raise StrategyError(f"canary_percent: must be in (0, 100), got {s.canary_percent}")
    if not 0.0 < _num(s.slo, "slo") <= 60.0:
        raise StrategyError(f"slo: must be in (0, 60] seconds, got {s.slo}")
    if not isinstance(s.frozen, bool):
        raise StrategyError(f"frozen: expected true or false, got {s.frozen!r}")


def preset(name: str, params: dict[str, tuple[float, float]] | None = None, **overrides: Any) -> Strategy:
    """The preset `name` tuning `params` (default: every numeric parameter at its default bounds)."""
    if name not in PRESETS:
        raise StrategyError(f"preset: unknown preset {name!r} (known: {', '.join(PRESETS)})")
    chosen = dict(params) if params else {p: DEFAULT_BOUNDS[p] for p in DEFAULT_PARAMS}
    return Strategy(preset=name, params=chosen, **{**PRESETS[name], **overrides})


DEFAULT = preset("balanced")


def parse_param(text: str) -> tuple[str, tuple[float, float]]:
    """`NAME=MIN:MAX` (or `NAME` for the default bounds; `lb` takes no bounds) -> (name, (min, max))."""
    name, sep, rest = text.partition("=")
    name = name.strip()
    if name not in PARAMS:
        raise StrategyError(f"--param {text!r}: unknown parameter {name!r} (known: {', '.join(PARAMS)})")
    if name == "lb":
        if sep:
            raise StrategyError(f"--param {text!r}: lb is a choice between balancers and takes no bounds")
        return name, (0.0, 0.0)
    if not sep:
        return name, DEFAULT_BOUNDS[name]
    low_s, colon, high_s = rest.partition(":")
    if not colon:
        raise StrategyError(f"--param {text!r}: expected NAME=MIN:MAX, e.g. concurrency=16:512")
    try:
        low, high = float(low_s), float(high_s)
    except ValueError:
        raise StrategyError(f"--param {text!r}: MIN and MAX must be numbers, got {low_s!r} and {high_s!r}") from None
    Strategy(params={name: (low, high)})  # validates the pair (raises StrategyError naming it)
    return name, (low, high)


def from_json(text: str | bytes, where: str = "strategy") -> Strategy:
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise StrategyError(f"{where}: not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise StrategyError(f"{where}: expected a JSON object")
    known = {f.name for f in fields(Strategy)}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise StrategyError(f"{where}: unknown field(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    params = doc.get("params", {})
    if not isinstance(params, dict) or not all(isinstance(v, list) and len(v) == 2 for v in params.values()):
        raise StrategyError(f"{where}.params: expected {{name: [min, max]}}")
    doc["params"] = {str(k): (v[0], v[1]) for k, v in params.items()}
    try:
        return Strategy(**doc)
    except StrategyError as exc:
        raise StrategyError(f"{where}.{exc}") from None
    except TypeError as exc:
        raise StrategyError(f"{where}: {exc}") from None


def with_changes(s: Strategy, **changes: Any) -> Strategy:
    return replace(s, **changes)
