"""Merging latency histograms of many windows and instances (engines.ingest.latency): pure, no Redis."""

from __future__ import annotations

import math

from apex.mesh.contract import histogram
from apex.mesh.contract.histogram import RELATIVE_ERROR, Histogram
from apex.mesh.v1 import telemetry_pb2
from hypothesis import given
from hypothesis import strategies as st

from engines.ingest.latency import Latency, latencies, route_histograms, service_histograms, window_histogram


def window(instance: str, seq: int, routes: dict[tuple[str, str], list[float]]) -> telemetry_pb2.TelemetryWindow:
    w = telemetry_pb2.TelemetryWindow(service="svc", instance=instance, sequence=seq)
    for (listener, route), values in routes.items():
        h = Histogram()
        for v in values:
            h.record(v)
        r = w.routes.add(listener=listener, route=route, cluster="c")
        r.stats.calls = len(values)
        histogram.encode(h, r.stats.latency)
    return w


def exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


calls = st.lists(st.floats(min_value=1e-5, max_value=10.0, allow_nan=False), min_size=1, max_size=60)


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), calls), min_size=1, max_size=12))
def test_merged_quantiles_are_within_the_stated_error_of_the_union(parts: list[tuple[str, list[float]]]) -> None:
    windows = [window(instance, i, {("inbound", "r"): values}) for i, (instance, values) in enumerate(parts)]
    union = [v for _, values in parts for v in values]
    [(key, merged)] = route_histograms(windows).items()
    assert key == ("svc", "inbound", "r") and merged.count == len(union)
    got = Latency.of(merged)
    for q, value in ((50.0, got.p50), (95.0, got.p95), (99.0, got.p99)):
        assert abs(value - exact(union, q)) <= RELATIVE_ERROR * exact(union, q) * (1 + 1e-9)
    assert got.max == max(union)


def test_routes_listeners_and_services() -> None:
    windows = [
        window("a", 1, {("inbound", "r1"): [0.001, 0.002], ("outbound", "up"): [0.5]}),
        window("b", 1, {("inbound", "r1"): [0.003], ("inbound", "r2"): [0.004]}),
        window("b", 2, {("inbound", "r2"): []}),  # no calls: nothing to merge
    ]
    by_route = route_histograms(windows, frozenset({"inbound"}))
    assert {k: h.count for k, h in by_route.items()} == {("svc", "inbound", "r1"): 3, ("svc", "inbound", "r2"): 1}
    assert {k: h.count for k, h in route_histograms(windows).items()}[("svc", "outbound", "up")] == 1
    [(service, h)] = service_histograms(windows, frozenset({"inbound"})).items()
    assert service == "svc" and h.count == 4 and h.max == 0.004
    assert window_histogram(windows[0], frozenset({"inbound"})).count == 2
    assert latencies({"x": Histogram()}) == {"x": Latency(0, 0.0, 0.0, 0.0, 0.0, 0.0)}
