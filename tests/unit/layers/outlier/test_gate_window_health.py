"""The per-endpoint gate, rolling window counts and active health-check decisions."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from sidecar.layers.outlier.gate import Gate, GateState
from sidecar.layers.outlier.health import Health, HealthTracker
from sidecar.layers.outlier.window import RollingCounts
from sidecar.policy.cluster_model import HealthCheckPolicy


def test_gate_open_limited_shut() -> None:
    gate = Gate()
    assert gate.admits() and gate.acquire() is False
    gate.limit(2)
    assert gate.acquire() and gate.acquire() and not gate.admits()
    with pytest.raises(RuntimeError):
        gate.acquire()
    gate.give_back()
    assert gate.admits()
    gate.give_back()
    gate.give_back()
    assert gate.permits == 2  # never more than the limit
    gate.shut()
    assert not gate.admits() and gate.state is GateState.SHUT
    with pytest.raises(RuntimeError):
        gate.acquire()
    gate.open()
    assert gate.admits()


def test_rolling_counts_age_out_bucket_by_bucket() -> None:
    window = RollingCounts(window=3.0, width=1.0)
    window.add(True, 0.1)
    window.add(False, 1.5)
    window.add(True, 2.9)
    assert window.totals(2.9) == (2, 1)
    assert window.totals(3.0) == (1, 1)  # bucket [0,1) left the window
    assert window.totals(4.2) == (1, 0)
    assert window.totals(10.0) == (0, 0)
    window.add(False, 10.0)
    window.clear()
    assert window.totals(10.0) == (0, 0)


def tracker(**overrides: object) -> HealthTracker:
    policy = replace(HealthCheckPolicy(interval=5.0, unhealthy_threshold=2, healthy_threshold=2), **overrides)
    t = HealthTracker(policy, random.Random(7))
    t.sync(["a:1", "b:1"], 0.0)
    return t


def test_health_checks_are_scheduled_once_each_and_rescheduled_after_a_result() -> None:
    t = tracker()
    assert sorted(t.due(0.5)) == ["a:1", "b:1"]  # first checks within 10% of an interval
    assert t.due(0.6) == []  # in progress
    t.record("a:1", True, 1.0)
    assert t.due(5.0) == []
    assert t.due(6.6) == ["a:1"]  # 5s ± 10% later


def test_health_transitions_unknown_serving_not_serving_and_back() -> None:
    t = tracker()
    assert t.endpoints["a:1"].health is Health.UNKNOWN and t.admits("a:1")
    assert t.record("a:1", True, 0.0) is Health.SERVING
    assert t.record("a:1", False, 5.0) is Health.SERVING  # 1 of 2 failures
    assert t.record("a:1", False, 10.0) is Health.NOT_SERVING
    assert not t.admits("a:1") and t.unavailable() == {"a:1"}
    assert t.record("a:1", True, 15.0) is Health.NOT_SERVING  # 1 of 2 passes
    assert t.record("a:1", True, 20.0) is Health.SERVING
    assert t.unavailable() == set()
    assert t.counters["marked_unhealthy"] == 1 and t.counters["marked_healthy"] == 1
    assert t.counters["checks_passed"] == 3 and t.counters["checks_failed"] == 2


def test_health_shadow_mode_counts_but_admits() -> None:
    t = tracker(enforced=False)
    t.record("a:1", False, 0.0)
    t.record("a:1", False, 5.0)
    assert t.endpoints["a:1"].health is Health.NOT_SERVING and t.admits("a:1") and not t.unavailable()
    assert t.counters["shadow_would_marked_unhealthy"] == 1
    t.sync(["b:1"], 6.0)
    assert set(t.endpoints) == {"b:1"}
    assert t.record("a:1", True, 7.0) is Health.UNKNOWN  # result for a removed endpoint
