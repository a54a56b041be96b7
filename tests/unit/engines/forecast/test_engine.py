"""The engine without I/O: closed seconds in, predictions with lead times, anomalies once, show documents."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engines.forecast.engine import Engine, EngineConfig, HoltDetector
from engines.forecast.predict import SPIKE, Rules
from engines.ingest.samples import Closed, Sample
from sidecar.cli import forecast_show


def feed(engine: Engine, rates: list[float], start: int = 10_000, key: str = "shop") -> None:
    engine.observe(Closed(key, start + i, Sample(calls=r)) for i, r in enumerate(rates))


def test_a_ramp_is_predicted_as_a_spike_before_it_crosses() -> None:
    engine = Engine(EngineConfig(resolution_s=1, history=120, horizon=30, fast_horizon=30,
                                 rules=Rules(spike_k=2.0, min_points=20)))  # fmt: skip
    rates = [10.0] * 60 + [10.0 + k for k in range(10)]  # rising 1/s, still below 2 x 10
    feed(engine, rates)
    ev = engine.evaluate("shop", 10_070.0)
    [spike] = [p for p in ev.predictions if p.kind == SPIKE]
    assert spike.lead_s > 0 and spike.evidence["baseline"] == 10.0, spike
    assert ev.forecast["mean"] and ev.forecast["model"] and "0.8" in ev.forecast["lower"]
    json.dumps(ev.forecast), json.dumps(ev.profile)  # documents are JSON-safe (no NaN)
    flat = Engine(EngineConfig(resolution_s=1, rules=Rules(min_points=20)))
    feed(flat, [10.0] * 70)
    assert not [p for p in flat.evaluate("shop", 10_070.0).predictions if p.kind == SPIKE]


def test_a_level_shift_raises_one_alarm() -> None:
    engine = Engine(EngineConfig(resolution_s=1), detector=lambda: HoltDetector(quiet=30))
    rng = np.random.default_rng(3)
    rates = list(10 + rng.normal(0, 0.5, 100)) + list(40 + rng.normal(0, 0.5, 20))
    feed(engine, rates)
    alarms = [a for a in engine.anomalies["shop"] if a["metric"] == "rate"]
    assert len(alarms) == 1 and alarms[0]["time"] >= 10_100, alarms


def test_detectors_plug_in_through_the_protocol() -> None:
    seen: list[tuple[float, float]] = []

    class Recorder:
        def update(self, value: float, now: float) -> tuple[float, bool]:
            seen.append((value, now))
            return 1.0, value > 5

    engine = Engine(EngineConfig(resolution_s=1), detector=Recorder)
    feed(engine, [1.0, 9.0, 1.0])
    # per second: its rate, then its error rate (no latency was reported: no p99); the third second's row
    # is written by the fourth
    assert seen == [(1.0, 10_001.0), (0.0, 10_001.0), (9.0, 10_002.0), (0.0, 10_002.0)]
    assert [(a["metric"], a["value"]) for a in engine.anomalies["shop"]] == [("rate", 9.0)]


def test_keys_are_bounded() -> None:
    engine = Engine(EngineConfig(resolution_s=1, max_keys=2))
    for key in ("a", "b", "c"):
        feed(engine, [1.0, 2.0], key=key)
    assert sorted(engine.series) == ["a", "b"] and engine.dropped_keys == 2


def test_show_renders_what_the_engine_stores() -> None:
    engine = Engine(EngineConfig(resolution_s=1, rules=Rules(min_points=20)))
    feed(engine, [10.0] * 60 + [10.0 + k for k in range(10)])
    ev = engine.evaluate("shop", 10_070.0)
    state = json.loads(json.dumps({"forecast": ev.forecast, "profile": ev.profile, "updated": 10_070.0,
                                   "predictions": [], "anomalies": [], "actions": [], "lag": None}))  # fmt: skip
    text = forecast_show.render("shop", state, 3, 10_075.0)
    assert "updated 5s ago" in text and "forecast (model" in text and "+     3s" in text and "%)" in text
    assert "peak hours" in text
    assert "stored nothing" in forecast_show.render("nobody", {}, 3, 0.0)


def test_events_carry_kind_priority_correlation_and_evidence() -> None:
    from apex.mesh.bus import Priority

    from engines.forecast import publish
    from engines.forecast.actions import Action
    from engines.forecast.predict import Prediction

    p = Prediction("shortage", "catalog", 100.0, 720.0, "HIGH", "catalog reaches its capacity", {"capacity": 410.0})
    e = publish.prediction_event(p, "shortage:catalog:100")
    assert (e.kind, e.priority, e.correlation_id) == ("forecast.shortage", Priority.HIGH, "shortage:catalog:100")
    assert (
        e.attributes["lead_s"] == "720" and e.attributes["capacity"] == "410" and e.attributes["predicted_at"] == "820"
    )
    a = Action("catalog", "cache[q].ttl", "10s", "why", "shortage:catalog:100", revert=True)
    r = publish.action_event(a, "applied", "version 4")
    assert r.kind == "forecast.action_reverted" and r.attributes["path"] == "cache[q].ttl" and "version 4" in r.message
    assert publish.action_event(a.__class__("c", "p", "v", "r", "id"), "dry-run").kind == "forecast.action_dry_run"


def test_show_without_redis_or_unreachable_says_so(capsys: object) -> None:
    import argparse

    args = argparse.Namespace(service="x", redis=None, group="forecaster", points=3, json=False, plot=None)
    assert forecast_show.run(args) == 2
    args.redis = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    assert forecast_show.run(args) == 1


def test_the_anomaly_engines_detector_alarms_once_on_a_level_shift() -> None:
    from engines.forecast.engine import AnomalyDetector

    engine = Engine(EngineConfig(resolution_s=1), detector=AnomalyDetector)
    rng = np.random.default_rng(5)
    rates = list(10 + rng.normal(0, 0.5, 300)) + list(40 + rng.normal(0, 0.5, 40))
    feed(engine, rates)
    alarms = [a for a in engine.anomalies.get("shop", ()) if a["metric"] == "rate"]
    assert len(alarms) == 1 and 10_300 <= alarms[0]["time"] <= 10_310, alarms


def test_the_default_detector_is_seasonal_at_the_forecast_resolution() -> None:
    from engines.forecast.engine import AnomalyDetector, daily_period

    assert (daily_period(60), daily_period(300), daily_period(3600)) == (1440, 288, 24)
    assert daily_period(1) == daily_period(86400) == 0  # too many points a day / coarser than hourly
    d = Engine(EngineConfig(resolution_s=60)).make_detector()
    assert isinstance(d, AnomalyDetector) and d.inner.config.period == 1440
    assert d.update(float("nan"), 0.0) == (0.0, False)  # a missing value is skipped, not an error


def test_demand_is_forecast_from_arrivals_not_capped_completions() -> None:
    engine = Engine(EngineConfig(resolution_s=1, history=120, horizon=10, fast_horizon=10, rules=Rules(min_points=20)))
    # completions capped at 10/s while arrivals double: the backlog grows by 10 calls a second
    seconds = [Sample(calls=10, started=10, in_flight=1)] * 60 + [Sample(calls=10, started=20, in_flight=1)] * 15
    engine.observe(Closed("shop", 10_000 + i, s) for i, s in enumerate(seconds))
    ev = engine.evaluate("shop", 10_075.0)
    assert ev.forecast["rate"][-1] == 10.0 and ev.forecast["demand"][-1] == 20.0
    assert min(ev.forecast["mean"]) > 15.0, ev.forecast["mean"]  # the forecast follows the arrivals
    unreported = Engine(EngineConfig(resolution_s=1, history=120, rules=Rules(min_points=20)))
    backlog = [Sample(calls=10, in_flight=1 + 10 * max(0, i - 59)) for i in range(75)]  # no `started`: in-flight grows
    unreported.observe(Closed("shop", 10_000 + i, s) for i, s in enumerate(backlog))
    assert unreported.evaluate("shop", 10_075.0).forecast["demand"][-3:] == [20.0, 20.0, 20.0]


def test_a_config_asking_for_more_history_than_is_kept_is_refused() -> None:
    EngineConfig(resolution_s=1, history=900)  # the 1 s ring keeps 900 points: all of them may be used
    with pytest.raises(ValueError, match="history 901 is more than the 900 points kept at 1 s resolution"):
        EngineConfig(resolution_s=1, history=901)
    with pytest.raises(ValueError, match="reselect_every must be >= 0 seconds, got -1"):
        EngineConfig(reselect_every=-1.0)


def test_a_burst_of_errors_is_an_anomaly_of_the_error_rate() -> None:
    engine = Engine(EngineConfig(resolution_s=1))
    calm = [Sample(calls=20, errors=int(i % 50 == 0)) for i in range(400)]  # an error now and then
    burst = [Sample(calls=20, errors=8) for _ in range(5)]
    engine.observe(Closed("shop", 10_000 + i, s) for i, s in enumerate([*calm, *burst, Sample(calls=20)]))
    alarms = [(a["metric"], a["time"]) for a in engine.anomalies.get("shop", [])]
    assert ("error_rate", 10_401.0) in alarms, alarms
    assert all(t > 10_400 for _, t in alarms), alarms  # the calm part raised nothing
