"""Strategies: presets, NAME=MIN:MAX parsing, validation with errors that name the field, JSON round trip,
and the gate bounds a strategy gives (its parameters within their bounds, every other one pinned)."""

from __future__ import annotations

import pytest

from engines.tune import strategy as strategies
from engines.tune.params import Params
from engines.tune.safety import Gate, Limits
from engines.tune.strategy import StrategyError


def test_presets_differ_in_exploration_step_and_rate() -> None:
    c, b, a = (strategies.preset(n) for n in ("conservative", "balanced", "aggressive"))
    assert c.epsilon < b.epsilon < a.epsilon
    assert c.max_step < b.max_step < a.max_step
    assert c.min_interval > b.min_interval > a.min_interval
    assert c.canary_percent < b.canary_percent
    assert set(b.params) == set(strategies.DEFAULT_PARAMS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("concurrency=16:512", ("concurrency", (16.0, 512.0))), ("attempts", ("attempts", (1, 4))),
     ("lb", ("lb", (0.0, 0.0))), ("cache_ttl=0:5.5", ("cache_ttl", (0.0, 5.5)))],
)  # fmt: skip
def test_param_flags(text: str, expected: tuple[str, tuple[float, float]]) -> None:
    assert strategies.parse_param(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [("colour=1:2", "unknown parameter 'colour'"), ("concurrency=9", "expected NAME=MIN:MAX"),
     ("concurrency=a:b", "must be numbers"), ("concurrency=64:16", "min 64 is above max 16"),
     ("concurrency=1:9999999", "leave the allowed range 1:1000000"), ("attempts=1:11", "allowed range 1:10"),
     ("lb=1:2", "takes no bounds"),
     ("retry_budget=0:nan", "finite number")],
)  # fmt: skip
def test_bad_param_flags_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(StrategyError, match=message):
        strategies.parse_param(text)


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"epsilon": 1.5}, "epsilon"), ({"trial_windows": 1}, "Welch's test needs 2"), ({"canary_percent": 100.0},
     "canary_percent"), ({"slo": 0.0}, "slo"), ({"preset": "reckless"}, "unknown preset"), ({"max_step": 0.0},
     "max_step")],
)  # fmt: skip
def test_bad_strategies_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(StrategyError, match=message):
        strategies.with_changes(strategies.DEFAULT, **changes)


def test_json_round_trip_and_bad_documents() -> None:
    s = strategies.preset("conservative", {"concurrency": (16, 256), "lb": (0, 0)}, frozen=True)
    assert strategies.from_json(s.to_json()) == s
    with pytest.raises(StrategyError, match="not JSON"):
        strategies.from_json("{")
    with pytest.raises(StrategyError, match=r"unknown field.*colour"):
        strategies.from_json('{"colour": 1}')
    with pytest.raises(StrategyError, match=r"strategy\.params\.concurrency: min 5 is above max 1"):
        strategies.from_json('{"params": {"concurrency": [5, 1]}}')


def test_bounds_pin_every_parameter_the_strategy_does_not_tune() -> None:
    s = strategies.preset("aggressive", {"concurrency": (16, 64)})
    current = Params(concurrency=100, attempts=3, cache_ttl=300.0, eject_after=7)
    gate = Gate(s.bounds(current), Limits(max_step=1.0, min_interval=0.0))
    wild = Params(concurrency=5000, attempts=1, cache_ttl=1.0, eject_after=2, retry_budget=0.0)
    admitted = gate.admit(0.0, current, wild)
    assert admitted.concurrency == 64  # tuned, within its bounds
    # not tuned: kept, even where outside the default bounds (a TTL of 300 s is the operator's)
    assert (admitted.attempts, admitted.cache_ttl, admitted.eject_after, admitted.retry_budget) == (3, 300.0, 7, 1.0)
