"""sidecar.telemetry.golden: windows of several instances merge into rows per key and time bucket."""

from __future__ import annotations

from apex.mesh.contract import histogram
from apex.mesh.v1 import telemetry_pb2

from sidecar.telemetry import golden


def window(
    instance: str, start: float, calls: int, errors: int, seconds: list[float], **counters: int
) -> telemetry_pb2.TelemetryWindow:
    w = telemetry_pb2.TelemetryWindow(service="svc", instance=instance)
    w.window_start.FromNanoseconds(int(start * 1e9))
    w.window.FromSeconds(1)
    r = w.routes.add(listener="inbound", route="r1", cluster="c")
    r.stats.calls, r.stats.errors = calls, errors
    r.stats.status_codes["OK"] = calls - errors
    if errors:
        r.stats.status_codes["UNAVAILABLE"] = errors
    h = histogram.Histogram()
    for s in seconds:
        h.record(s)
    histogram.encode(h, r.stats.latency)
    for name, n in counters.items():
        r.stats.counters[name] = n
    return w


def test_two_instances_merge_into_one_row_with_rates_and_ratios() -> None:
    ws = [
        window("a", 100.0, 10, 1, [0.01] * 10, retries=2, cache_hits=3, cache_misses=1, rate_limited=4),
        window("b", 101.0, 30, 0, [0.1] * 30, caps_rejected_max_pending=1),
        window("b", 200.0, 99, 0, [1.0] * 99),  # outside the range: not counted
    ]
    [row] = golden.rows(ws, "service", since=95.0, now=115.0)
    d = row.as_dict("service")
    assert (d["service"], d["listener"], d["instances"]) == ("svc", "inbound", 2)
    assert d["calls"] == 40 and d["errors"] == 1 and d["errors_by_code"] == {"UNAVAILABLE": 1}
    assert d["calls_per_second"] == 2.0  # 40 calls over the 20 s range
    assert d["success_rate"] == 39 / 40
    assert d["retries"] == 2 and d["rejections"] == 5 and d["cache_hit_ratio"] == 0.75
    # 30 of the 40 calls took 100 ms: the merged median is b's, within the codec's error.
    assert abs(d["latency_ms"]["p50"] - 100) <= 100 * histogram.RELATIVE_ERROR


def test_buckets_split_by_window_start_and_the_running_bucket_uses_elapsed_time() -> None:
    ws = [window("a", 0.5, 6, 0, [0.01] * 6), window("a", 61.0, 3, 0, [0.01] * 3)]
    first, second = golden.rows(ws, "route", since=0.0, now=90.0, bucket=60.0)
    assert (first.calls, first.seconds, first.rate) == (6, 60.0, 0.1)
    assert (second.calls, second.seconds, second.rate) == (3, 30.0, 0.1)
    assert first.key == ("svc", "inbound", "r1")


def test_no_calls_gives_none_not_zero_for_ratios() -> None:
    [row] = golden.rows([window("a", 1.0, 0, 0, [])], "service", since=0.0, now=10.0)
    d = row.as_dict("service")
    assert d["success_rate"] is None and d["cache_hit_ratio"] is None and d["latency_ms"]["p95"] is None


def test_instance_health_takes_the_newest_window_as_heartbeat() -> None:
    old = window("a", 10.0, 5, 1, [0.01] * 5)
    new = window("a", 20.0, 2, 0, [0.01] * 2)
    new.policy_version = "7"
    [h] = golden.instance_health([new, old])
    assert h.as_dict(now=25.0) == {
        "service": "svc",
        "instance": "a",
        "zone": "",
        "seconds_since_heartbeat": 4.0,
        "calls": 7,
        "errors": 1,
        "policy_version": "7",
        "windows": 2,
    }


def method_window(
    instance: str, start: float, methods: dict[str, tuple[int, int, float]]
) -> telemetry_pb2.TelemetryWindow:
    """One route with per-method aggregates: method -> (calls, errors, seconds each)."""
    w = telemetry_pb2.TelemetryWindow(service="svc", instance=instance)
    w.window_start.FromNanoseconds(int(start * 1e9))
    r = w.routes.add(listener="inbound", route="all", cluster="c")
    r.stats.counters["retries"] = 4
    for path, (calls, errors, seconds) in methods.items():
        m = r.methods.add(method=path)
        m.stats.calls, m.stats.errors = calls, errors
        m.stats.status_codes["OK"] = calls - errors
        if errors:
            m.stats.status_codes["INTERNAL"] = errors
        h = histogram.Histogram()
        for _ in range(calls):
            h.record(seconds)
        histogram.encode(h, m.stats.latency)
        r.stats.calls += calls
        r.stats.errors += errors
        if errors:
            r.failed.add(trace_id="f" * 32, method=path, code="INTERNAL")
    r.slowest.CopyFrom(telemetry_pb2.Exemplar(trace_id="a" * 32, method="/pkg.S/Slow", seconds=2.0))
    return w


def test_method_rows_merge_instances_per_method_without_route_counters() -> None:
    ws = [
        method_window("a", 1.0, {"/pkg.S/Fast": (10, 0, 0.001), "/pkg.S/Slow": (2, 1, 2.0)}),
        method_window("b", 2.0, {"/pkg.S/Fast": (30, 3, 0.002)}),
    ]
    fast, slow = golden.rows(ws, "method", since=0.0, now=10.0)
    assert fast.key == ("svc", "inbound", "/pkg.S/Fast") and slow.key == ("svc", "inbound", "/pkg.S/Slow")
    d = fast.as_dict("method")
    assert (d["method"], d["instances"], d["calls"], d["errors"]) == ("/pkg.S/Fast", 2, 40, 3)
    assert d["errors_by_code"] == {"INTERNAL": 3}
    assert abs(d["latency_ms"]["p99"] - 2.0) <= 2.0 * histogram.RELATIVE_ERROR
    assert d["retries"] is None and d["rejections"] is None  # counted per route, not per method
    assert d["slowest"] is None and [e["method"] for e in d["failed"]] == ["/pkg.S/Fast"]
    s = slow.as_dict("method")
    assert s["calls"] == 2 and s["slowest"]["method"] == "/pkg.S/Slow" and len(s["failed"]) == 1
    [route] = golden.rows(ws, "route", since=0.0, now=10.0)
    assert route.calls == fast.calls + slow.calls and route.retries == 8
