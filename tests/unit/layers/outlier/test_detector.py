"""Every state transition of the outlier detector and of half-open probing, on a fake clock."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sidecar.core.call import Code, Status
from sidecar.layers.outlier.detector import Outcome, OutlierDetector, State, classify, is_connect_failure
from sidecar.layers.outlier.gate import GateState
from sidecar.policy.cluster_model import FailurePercentagePolicy, OutlierPolicy, SuccessRatePolicy

OK = Status(Code.OK)
FAIL = Status(Code.UNAVAILABLE, "boom")
CANCELLED = Status(Code.CANCELLED, "cancelled by the caller")
HOSTS = ["a:1", "b:1", "c:1"]


def detector(hosts: list[str] = HOSTS, **overrides: object) -> OutlierDetector:
    policy = replace(
        OutlierPolicy(consecutive_failures=3, base_ejection_time=10.0, max_ejection_time=25.0, max_ejection_percent=50),
        **overrides,
    )
    d = OutlierDetector(policy, now=0.0)
    d.sync(hosts, now=0.0)
    return d


def fail(d: OutlierDetector, address: str, n: int, now: float) -> None:
    for _ in range(n):
        d.record(address, FAIL, now, probe=False)


def test_classify_default_codes_connect_failures_and_cancellation() -> None:
    policy = OutlierPolicy()
    assert classify(Status(Code.INTERNAL), policy) is Outcome.FAILURE
    assert classify(Status(Code.DEADLINE_EXCEEDED), policy) is Outcome.FAILURE
    assert classify(Status(Code.NOT_FOUND), policy) is Outcome.SUCCESS  # the endpoint answered
    assert classify(CANCELLED, policy) is Outcome.NEUTRAL
    connect = Status(Code.UNAVAILABLE, "failed to connect to all addresses; last error: Connection refused")
    assert is_connect_failure(connect)
    only_internal = replace(policy, failure_codes=frozenset({Code.INTERNAL}))
    assert classify(FAIL, only_internal) is Outcome.SUCCESS
    assert classify(connect, only_internal) is Outcome.FAILURE
    assert classify(connect, replace(only_internal, connect_failures=False)) is Outcome.SUCCESS


def test_consecutive_failures_eject_and_a_success_resets_the_run() -> None:
    d = detector()
    fail(d, "a:1", 2, 1.0)
    d.record("a:1", OK, 1.0, probe=False)
    fail(d, "a:1", 2, 1.0)
    assert d.admits("a:1", 1.0)
    fail(d, "a:1", 1, 1.0)
    ep = d.endpoints["a:1"]
    assert ep.state is State.EJECTED and ep.gate.state is GateState.SHUT
    assert not d.admits("a:1", 1.0)
    assert ep.ejected_until == pytest.approx(11.0)
    assert d.counters["ejections_consecutive_failures"] == 1


def test_ejected_to_half_open_after_ejection_time_then_probe_success_readmits() -> None:
    d = detector()
    fail(d, "a:1", 3, 0.0)
    assert not d.admits("a:1", 9.99)
    assert d.unavailable(9.99) == {"a:1"}
    assert d.admits("a:1", 10.0)  # half-open: one probe permit
    ep = d.endpoints["a:1"]
    assert ep.state is State.HALF_OPEN and ep.gate.state is GateState.LIMITED
    assert d.unavailable(10.0) == set()  # half-open with a permit: pickable
    assert d.on_pick("a:1", 10.0) is True
    assert not d.admits("a:1", 10.0)  # the only permit is out
    assert d.unavailable(10.0) == {"a:1"}
    d.record("a:1", OK, 10.1, probe=True)
    assert ep.state is State.ACTIVE and d.admits("a:1", 10.1)
    assert d.unavailable(10.1) == set()
    assert d.counters["readmissions"] == 1


def test_probe_failure_re_ejects_for_longer_capped_at_max() -> None:
    d = detector()
    fail(d, "a:1", 3, 0.0)  # 1st ejection: 10s
    d.on_pick("a:1", 10.0)
    d.record("a:1", FAIL, 10.0, probe=True)  # 2nd: 20s
    ep = d.endpoints["a:1"]
    assert ep.state is State.EJECTED and ep.ejected_until == pytest.approx(30.0)
    d.on_pick("a:1", 30.0)
    d.record("a:1", FAIL, 30.0, probe=True)  # 3rd: 30s, capped at 25s
    assert ep.ejected_until == pytest.approx(55.0)
    assert ep.times_ejected == 3 and ep.counters["probe_failures"] == 2


def test_several_probes_must_all_succeed_and_cancelled_probes_give_back_their_permit() -> None:
    d = detector(half_open_probes=2)
    fail(d, "a:1", 3, 0.0)
    assert d.on_pick("a:1", 10.0) and d.on_pick("a:1", 10.0)
    assert not d.admits("a:1", 10.0)
    d.record("a:1", CANCELLED, 10.1, probe=True)  # no verdict: the permit comes back
    assert d.admits("a:1", 10.1)
    d.record("a:1", OK, 10.2, probe=True)
    assert d.endpoints["a:1"].state is State.HALF_OPEN  # 1 of 2
    assert d.on_pick("a:1", 10.3)
    d.record("a:1", OK, 10.4, probe=True)
    assert d.endpoints["a:1"].state is State.ACTIVE


def test_late_results_of_calls_started_before_ejection_are_ignored() -> None:
    d = detector()
    fail(d, "a:1", 3, 0.0)
    d.record("a:1", OK, 1.0, probe=False)  # finished while ejected
    d.admits("a:1", 10.0)
    d.record("a:1", OK, 10.0, probe=False)  # not a probe: half-open waits for its probes
    assert d.endpoints["a:1"].state is State.HALF_OPEN


def test_multiplier_decays_one_step_per_base_time_active() -> None:
    d = detector()
    fail(d, "a:1", 3, 0.0)
    d.on_pick("a:1", 10.0)
    d.record("a:1", OK, 10.0, probe=True)  # readmitted with multiplier 1
    fail(d, "a:1", 3, 15.0)  # less than a base time later: multiplier 2 → 20s
    assert d.endpoints["a:1"].ejected_until == pytest.approx(35.0)
    d.on_pick("a:1", 35.0)
    d.record("a:1", OK, 35.0, probe=True)
    fail(d, "a:1", 3, 60.0)  # 25s active = 2 base times: multiplier 2 → 0, then 1 → 10s
    assert d.endpoints["a:1"].ejected_until == pytest.approx(70.0)


def test_max_ejection_percent_allows_at_least_one_and_counts_skips() -> None:
    d = detector(max_ejection_percent=10)
    fail(d, "a:1", 3, 0.0)
    fail(d, "b:1", 3, 0.0)
    assert d.endpoints["a:1"].state is State.EJECTED
    assert d.endpoints["b:1"].state is State.ACTIVE
    assert d.counters["eject_skipped_max_percent"] == 1
    off = detector(max_ejection_percent=0)
    fail(off, "a:1", 3, 0.0)
    assert off.endpoints["a:1"].state is State.ACTIVE


def test_half_open_endpoints_count_against_max_ejection_percent() -> None:
    d = detector(max_ejection_percent=10)
    fail(d, "a:1", 3, 0.0)
    d.admits("a:1", 10.0)  # half-open, still out
    fail(d, "b:1", 3, 10.0)
    assert d.endpoints["b:1"].state is State.ACTIVE


def test_success_rate_detector_ejects_the_low_outlier_each_interval() -> None:
    hosts = [f"h{i}:1" for i in range(5)]
    d = detector(
        hosts,
        consecutive_failures=0,
        max_ejection_percent=100,
        success_rate=SuccessRatePolicy(stdev_factor=1.0, minimum_hosts=5, request_volume=10),
    )
    for host in hosts:
        for i in range(20):
            bad = host == "h0:1" and i % 2 == 0
            d.record(host, FAIL if bad else OK, 0.5, probe=False)
    assert all(ep.state is State.ACTIVE for ep in d.endpoints.values())  # not swept yet
    d.tick(1.0)
    assert d.endpoints["h0:1"].state is State.EJECTED
    assert [h for h, ep in d.endpoints.items() if ep.state is State.EJECTED] == ["h0:1"]
    assert d.counters["ejections_success_rate"] == 1


def test_success_rate_needs_minimum_hosts_and_volume() -> None:
    hosts = [f"h{i}:1" for i in range(5)]
    d = detector(hosts, consecutive_failures=0, max_ejection_percent=100, success_rate=SuccessRatePolicy(1.0, 5, 10))
    fail(d, "h0:1", 20, 0.5)
    for host in hosts[1:4]:
        for _ in range(20):
            d.record(host, OK, 0.5, False)
    for _ in range(9):
        d.record("h4:1", OK, 0.5, False)  # below request_volume: only 4 hosts judged
    d.tick(1.0)
    assert all(ep.state is State.ACTIVE for ep in d.endpoints.values())


def test_failure_percentage_detector_and_rolling_window_expiry() -> None:
    d = detector(
        consecutive_failures=0,
        window=2.0,
        failure_percentage=FailurePercentagePolicy(threshold=50, minimum_hosts=3, request_volume=4),
    )
    for host in HOSTS:
        for i in range(4):
            d.record(host, FAIL if host == "a:1" and i < 3 else OK, 0.5, False)
    # Before the sweep, time passes beyond the window: the counts age out and nothing is ejected.
    d.tick(3.0)
    assert d.endpoints["a:1"].state is State.ACTIVE
    for host in HOSTS:
        for i in range(4):
            d.record(host, FAIL if host == "a:1" and i < 3 else OK, 3.5, False)
    d.tick(4.0)
    assert d.endpoints["a:1"].state is State.EJECTED
    assert d.counters["ejections_failure_percentage"] == 1


def test_shadow_mode_counts_would_be_ejections_but_keeps_admitting() -> None:
    d = detector(enforced=False)
    fail(d, "a:1", 3, 0.0)
    assert d.admits("a:1", 1.0) and not d.unavailable(1.0)
    assert d.endpoints["a:1"].state is State.EJECTED  # the shadow state
    assert d.counters["shadow_would_ejections"] == 1 and d.counters["ejections"] == 0
    assert d.on_pick("a:1", 10.0)  # half-open in shadow: every call is a probe
    d.record("a:1", OK, 10.0, probe=True)
    assert d.counters["shadow_would_readmissions"] == 1


def test_panic_pick_of_an_ejected_endpoint_is_not_a_probe_and_sync_tracks_membership() -> None:
    d = detector()
    fail(d, "a:1", 3, 0.0)
    assert d.on_pick("a:1", 1.0) is False
    d.sync(["b:1", "d:1"], 2.0)
    assert set(d.endpoints) == {"b:1", "d:1"}
    assert d.admits("unknown:1", 2.0)


def test_configure_keeps_state_and_restarts_windows_on_new_shape() -> None:
    d = detector()
    fail(d, "a:1", 3, 0.0)
    d.configure(replace(d.policy, window=20.0, consecutive_failures=7))
    assert d.endpoints["a:1"].state is State.EJECTED
    assert d.endpoints["b:1"].window.buckets == 20
