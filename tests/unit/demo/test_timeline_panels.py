"""The demo's script (phases of its compressed day, the incident) and its engine panels (pure)."""

from __future__ import annotations

import json

import pytest

from engines.forecast.engine import Engine, EngineConfig
from engines.forecast.predict import Rules
from engines.ingest.samples import Closed, Sample
from sidecar.demo import dashboard, panels
from sidecar.demo.load import daily_rate
from sidecar.demo.timeline import Timeline


def test_the_phases_follow_the_load_shape_and_repeat_every_day() -> None:
    t = Timeline(period=100.0, incident_at=150.0, incident_for=20.0)
    assert [t.phase(x) for x in (0, 19.9, 20, 45, 65, 80, 95)] == [
        "night", "night", "morning ramp", "midday peak", "afternoon", "evening shoulder", "night"]  # fmt: skip
    assert t.phase(145.0) == t.phase(45.0) and t.day(145.0) == 2
    peak = max(range(100), key=lambda s: daily_rate(s, 100.0, 40.0))
    assert t.phase(peak) == "midday peak"  # the load's peak is where the timeline says
    assert daily_rate(10, 100.0, 40.0) < daily_rate(30, 100.0, 40.0) < daily_rate(50, 100.0, 40.0)  # the ramp


def test_the_incident_has_a_start_and_an_end_and_can_be_off() -> None:
    t = Timeline(period=100.0, incident_at=150.0, incident_for=20.0)
    assert [t.incident(x) for x in (149.9, 150.0, 169.9, 170.0)] == [False, True, True, False]
    assert "INCIDENT: catalog-2" in t.label(160.0) and t.label(10.0) == "day 1, night"
    assert not any(Timeline(100.0, 0.0, 0.0).incident(x) for x in (0.0, 50.0))


def test_milestones_list_phases_and_the_incident_in_time_order() -> None:
    got = Timeline(period=100.0, incident_at=150.0, incident_for=20.0).milestones(until=160.0)
    assert got[0] == (0.0, "day 1: night") and (90.0, "day 1: night") in got
    assert (100.0, "day 2: night") not in got  # the night goes on across midnight: one entry
    assert (120.0, "day 2: morning ramp") in got and (150.0, "incident starts: catalog-2 flaky and slow") in got
    assert all(when < 160.0 for when, _ in got) and [w for w, _ in got] == sorted(w for w, _ in got)
    assert not any("incident ends" in text for _, text in got)  # at 170: after `until`


@pytest.mark.parametrize(("period", "at", "length", "needle"), [(0, 1, 1, "period"), (10, -1, 1, "start"),
                                                                  (10, 1, -1, "length")])  # fmt: skip
def test_bad_timelines_are_refused_with_the_reason(period: float, at: float, length: float, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        Timeline(period, at, length)


def test_sparklines_share_one_scale_and_show_gaps() -> None:
    assert panels.sparkline([0, 5, 10], 0, 10) == "▁▅█"
    assert panels.sparkline([None, 20.0, -3.0], 0, 10) == " █▁"  # missing, clipped above and below
    assert panels.sparkline([3, 3], 3, 3) == "▁▁"  # a flat scale
    assert panels.squeeze([1, 3, None, None, 5, 7], 3) == [2.0, None, 6.0]


def test_the_forecast_panel_draws_a_real_engine_forecast() -> None:
    engine = Engine(EngineConfig(resolution_s=1, history=120, horizon=20, rules=Rules(min_points=20)))
    engine.observe(Closed("frontend", 10_000 + i, Sample(calls=10.0 + i / 10)) for i in range(80))
    doc = json.loads(json.dumps(engine.evaluate("frontend", 10_080.0).forecast))
    lines = panels.forecast_panel("frontend", doc, now=10_081.0)
    assert lines[0].startswith("Forecast for frontend calls/s (model ") and "updated 2s ago" in lines[0]
    assert "| next 20s" in lines[1] and "95% upper" in lines[2] and "95% lower" in lines[4]  # the widest
    history, ahead = lines[3].split(" | ")
    assert len(history.strip()) == 48 and len(ahead.split()[0]) == 20  # one character per point
    assert history.strip()[0] == "▁" and "now 17.8 -> in 20s" in lines[5]  # rising; the last closed row: 78
    assert "no history yet" in panels.forecast_panel("frontend", None, 0.0)[0]
    assert "not enough to forecast" in panels.forecast_panel("frontend", {"rate": [1.0], "times": [0]}, 0.0)[0]


def item(kind: str, message: str = "m", **attributes: str) -> panels.Item:
    return panels.Item(1_800_000_000.0, "frontend", kind, "HIGH", message, "cid", attributes)


def test_events_are_sorted_into_panels_with_their_reasons() -> None:
    log = panels.EngineLog(keep=2)
    log.add([item("forecast.traffic_spike", "rate will exceed 1.3x", lead_s="12"),
             item("forecast.anomaly", "catalog: p99 0.09 is anomalous"),
             item("forecast.action_applied", "forecast 30 vs 20: cache TTL 5s -> 10s", path="cache[q].ttl",
                  value="10s", status="applied"),
             item("forecast.action_reverted", "the spike has passed", path="cache[q].ttl", value="5s"),
             item("tune.canary", "trying cap 30"),
             item("tuner.promoted", "canary better", reward="0.95"),
             item("tune.rollback", "tuner: roll back version 2 ...", version="2", changes="concurrency 100 -> 1",
                  reward_before="0.9780", reward_after="0.2120", p_value="0.0030"),
             item("policy_applied", "v3 applied")])  # fmt: skip
    assert log.counts == {"prediction": 1, "anomaly": 1, "action": 2, "tuner": 3, "other": 1}
    assert [i.kind for i in log.latest(panels.TUNER, 5)] == ["tuner.promoted", "tune.rollback"]  # bounded
    text = "\n".join(panels.event_panels(log, n=3))
    assert "traffic_spike (lead 12s): rate will exceed 1.3x" in text
    assert "frontend applied: forecast 30 vs 20: cache TTL 5s -> 10s" in text
    assert "frontend reverted: the spike has passed" in text
    assert "Tuner decisions (canary, promotion, rollback; reward before -> after): 3" in text
    assert "tuner.promoted: canary better (reward 0.95)" in text  # a shape of its own: shown as it comes
    assert "tune.rollback v2: concurrency 100 -> 1 (reward 0.9780 -> 0.2120), p=0.0030" in text
    assert "trying cap 30" not in text  # keep=2: the oldest is gone
    assert panels.reward_text({"reward_before": "0.91", "reward_after": "0.42"}) == " (reward 0.91 -> 0.42)"
    clipped = panels.event_panels(log, n=3, width=40)
    assert max(map(len, clipped)) <= 75 and "  " + log.latest(panels.PREDICTION, 1)[0].line()[:37] + "…" in clipped
    empty = panels.event_panels(panels.EngineLog(), tuner_note="the tuner is not running")
    assert "  the tuner is not running" in empty and empty.count("  (none yet)") == 3


def test_the_dashboard_shows_the_timeline_and_the_panels() -> None:
    frame = dashboard.Frame(12.0, 30.0, 8.0, [dashboard.ServiceRow("frontend", 8.0)], 40, ["x v2 forecaster: y"],
                            phase="day 1, morning ramp", panels=["Forecast for frontend ..."])  # fmt: skip
    text = dashboard.render(frame)
    assert "timeline: day 1, morning ramp" in text.splitlines()[1]
    assert "Forecast for frontend ..." in text and "(control-plane audit): 1" in text
