"""The observability benchmark in miniature (real Echo, Redis, OTLP receiver and six sidecars): each
cycle's CPU is read only once the sidecars' deferred work is delivered — every call of the cycle in
the telemetry windows in Redis and every span of the 100% tracing configuration at the receiver —
so window rolls and span exports are inside the measured span."""

from __future__ import annotations

import argparse

import pytest

from benchmarks import observability_bench as bench

pytestmark = pytest.mark.integration


@pytest.mark.timeout(180)
def test_cpu_spans_include_window_rolls_and_span_exports() -> None:
    args = argparse.Namespace(cycles=2, batch=40, warmup=10, concurrency=2, seed=1)
    cycles, spans = bench.end_to_end(args)
    assert len(cycles.flushed) == 2
    for flushed in cycles.flushed:
        for name in (*bench.TELEMETRY, bench.TRACED_ALL):
            assert flushed[name] >= flushed[f"sent:{name}"], (name, flushed)
    assert spans >= 10 + 2 * 40
    assert set(cycles.per_call) == set(bench.configs("a:1", "redis://x", "b:1"))
    assert all(len(v) == 2 and all(x > 0 for x in v) for v in cycles.per_call.values()), cycles.per_call


def test_every_configuration_has_its_own_service_name() -> None:
    names = [c["node"]["service"] for c in bench.configs("a:1", "redis://x", "b:1").values()]
    assert len(set(names)) == len(names)
    assert bench.service_name("tracing 100%") == "bench-tracing-100"


def test_layer_costs_cover_every_configuration_with_a_cost() -> None:
    costs = bench.layer_costs(calls=300, repeats=1)
    assert set(costs) == {bench.BASELINE, "metrics layer", "trace layer 1%", "trace layer 100%", "metrics + trace 1%"}
    assert all(us > 0 for us in costs.values()), costs
