"""Turn a forecast into preventive policy actions (pure: state, `now` and policy facts in)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from engines.forecast import model


@dataclass(frozen=True, slots=True)
class SpikeRule:
    """When a predicted rise counts as a spike, and what to do about it."""

    horizon: int = 30  # windows ahead to look
    ratio: float = 1.5  # predicted / current rate that counts as a spike
    min_rate: float = 5.0  # calls per window below which nothing is done
    cooldown: float = 60.0  # seconds between actions for one service
    ttl_factor: float = 2.0  # cache TTLs are multiplied by this before a spike
    max_ttl: float = 300.0  # … up to this many seconds

    def __post_init__(self) -> None:
        if self.horizon < 1 or self.ratio <= 1.0 or self.ttl_factor <= 1.0 or self.max_ttl <= 0:
            raise ValueError("horizon >= 1, ratio > 1, ttl_factor > 1 and max_ttl > 0 are required")


@dataclass(frozen=True, slots=True)
class Action:
    service: str
    path: str  # PolicyAdmin patch path, e.g. cache[pricing-quote].ttl
    value: str  # YAML text for the new value
    reason: str


@dataclass(frozen=True, slots=True)
class Prediction:
    current: float
    predicted: float
    horizon: int

    @property
    def ratio(self) -> float:
        return self.predicted / self.current if self.current > 0 else 0.0


def predict(state: model.Holt, rule: SpikeRule, params: model.Params = model.DEFAULT) -> Prediction:
    return Prediction(current=state.level, predicted=model.forecast(state, rule.horizon, params), horizon=rule.horizon)


def spike_actions(
    service: str,
    prediction: Prediction,
    cache_ttls: Mapping[str, float],
    now: float,
    last_action_at: float | None,
    rule: SpikeRule | None = None,
) -> list[Action]:
    """Raise the cache TTLs of `service`'s cache rules ahead of a predicted spike.

    1. nothing while cooling down from the last action, or below the minimum rate;
    2. nothing unless the forecast at the horizon is `ratio` times today's level;
    3. each cache rule's TTL times `ttl_factor`, capped at `max_ttl` (rules at the cap are left).
    """
    rule = rule or SpikeRule()
    if last_action_at is not None and now - last_action_at < rule.cooldown:
        return []
    if prediction.current < rule.min_rate or prediction.ratio < rule.ratio:
        return []
    actions = []
    for name, ttl in sorted(cache_ttls.items()):
        new = min(rule.max_ttl, max(ttl, 1.0) * rule.ttl_factor)
        if new <= ttl:
            continue
        reason = (
            f"forecast {prediction.predicted:.0f} calls/window in {prediction.horizon} windows vs "
            f"{prediction.current:.0f} now (x{prediction.ratio:.1f}): cache TTL {ttl:g}s -> {new:g}s before the spike"
        )
        actions.append(Action(service, f"cache[{name}].ttl", f"{new:g}s", reason))
    return actions
