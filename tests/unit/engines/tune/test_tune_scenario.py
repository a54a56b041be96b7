"""Scenario files: the issue's example parses exactly; each kind of bad input names its field and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from engines.tune.scenario import ScenarioError, loads, parse_duration

EXAMPLE = """
name: gray-failure
duration: 120s
seed: 7
slo: {latency: 100ms}
endpoints:
  - {capacity: 400, latency: 5ms}
  - {capacity: 400, latency: 5ms, events: [{at: 30s, latency: 60ms}, {at: 90s, latency: 5ms}]}
  - {capacity: 400, latency: 5ms, events: [{at: 45s, error_rate: 0.3}, {at: 75s, down: true}]}
load:
  - {at: 0s, rate: 300}
  - {at: 60s, rate: 900, ramp_to: 1200}
cache: {keys: 1000, zipf: 1.1, update_interval: 10s}
"""

SUITE = Path(__file__).resolve().parents[4] / "benchmarks" / "scenarios"


def test_the_issue_example_parses_with_its_meanings() -> None:
    sc = loads(EXAMPLE)
    assert (sc.name, sc.duration, sc.seed) == ("gray-failure", 120.0, 7)
    assert sc.slo.latency == pytest.approx(0.1) and sc.slo.deadline == pytest.approx(0.2)
    assert [e.capacity for e in sc.endpoints] == [400, 400, 400]
    assert sc.endpoints[1].events[0].latency == pytest.approx(0.06)
    assert sc.endpoints[2].events[1].down is True and sc.endpoints[2].events[0].error_rate == 0.3
    assert sc.cache is not None and sc.cache.keys == 1000 and sc.cache.update_interval == 10.0
    assert sc.rate_at(10) == 300 and sc.rate_at(60) == 900 and sc.rate_at(120) == 1200
    assert sc.rate_at(90) == pytest.approx(1050)
    assert sc.disturbances() == (30.0, 45.0, 60.0, 75.0, 90.0)


def test_durations() -> None:
    assert parse_duration("100ms", "x") == pytest.approx(0.1)
    assert parse_duration("2m", "x") == 120.0
    assert parse_duration(1.5, "x") == 1.5
    for bad in ("fast", "-1s", True, None, "1h"):
        with pytest.raises(ScenarioError, match=r"^x: "):
            parse_duration(bad, "x")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("seed: 7", "seed: 7\ncolour: red", r"scenario\.colour: unknown field"),
        ("rate: 300}", "rate: -5}", r"load\[0\]\.rate: must be non-negative, got -5"),
        ("{at: 90s, latency: 5ms}", "{at: 20s, latency: 5ms}", r"endpoints\[1\]\.events\[1\]\.at: events out of order"),
        ("{at: 75s, down: true}", "{at: 130s, down: true}", r"endpoints\[2\]\.events\[1\]\.at: 130s is beyond"),
        ("error_rate: 0.3}", "error_rate: 1.3}", r"endpoints\[2\]\.events\[0\]\.error_rate: must be within 0\.\.1"),
        ("down: true}", "down: maybe}", r"endpoints\[2\]\.events\[1\]\.down: expected true or false"),
        ("{capacity: 400, latency: 5ms}\n", "{capacity: 0, latency: 5ms}\n", r"endpoints\[0\]\.capacity: must be pos"),
        ("slo: {latency: 100ms}", "slo: {latency: soon}", r"slo\.latency: expected a duration"),
        ("slo: {latency: 100ms}", "slo: {}", r"slo\.latency: required field is missing"),
        ("{at: 60s, rate: 900", "{at: 0s, rate: 900", r"load\[1\]\.at: steps out of order"),
        ("zipf: 1.1", "zipf: 0", r"cache\.zipf: must be positive"),
        ("keys: 1000", "keys: 2.5", r"cache\.keys: expected a positive whole number"),
        ("{at: 45s, error_rate: 0.3}", "{at: 45s}", r"endpoints\[2\]\.events\[0\]: an event changes nothing"),
        ("{at: 0s, rate: 300}", "{at: 5s, rate: 300}", r"load\[0\]\.at: the first step must start at 0s"),
        ("seed: 7", "seed: 7\nroutes: {v9: 1}", r"routes\.v9: no endpoint is in group"),
    ],
)
def test_bad_input_names_the_field_and_reason(old: str, new: str, message: str) -> None:
    assert old in EXAMPLE
    with pytest.raises(ScenarioError, match=r"^my\.yaml: " + message):
        loads(EXAMPLE.replace(old, new, 1), "my.yaml")


def test_not_yaml_and_not_a_mapping() -> None:
    with pytest.raises(ScenarioError, match="not valid YAML"):
        loads("name: [", "f.yaml")
    with pytest.raises(ScenarioError, match="scenario: expected a mapping"):
        loads("- 1", "f.yaml")


def test_the_suite_parses() -> None:
    from engines.tune.scenario import load

    files = sorted(SUITE.glob("*.yaml"))
    assert len(files) >= 7
    names = {load(f).name for f in files}
    assert {"failure-burst", "gray-failure", "load-spike", "bad-canary", "cache-updates", "overload",
            "retry-storm"} <= names  # fmt: skip


def test_a_short_version_of_the_suite_runs() -> None:
    """Every suite scenario, cut to its first 15 s, runs through the default and an untrained tuner."""
    import dataclasses

    from engines.tune.baselines import Static
    from engines.tune.run import run
    from engines.tune.scenario import load
    from engines.tune.tuner import Tuner

    for f in sorted(SUITE.glob("*.yaml")):
        sc = load(f)
        short = dataclasses.replace(sc, duration=15.0)
        default, tuned = run(short, Static()), run(short, Tuner(short))
        assert default.goodput > 0 and tuned.goodput > 0, f.name
        assert len(default.good_series) == 15
