"""The cluster-overhead benchmark exercises the paths it names: with one endpoint failing, outlier
detection ejects it and half-opens it again during the run; a capped cluster rejects; the success
configurations see only OK."""

from __future__ import annotations

import asyncio

from benchmarks import cluster_overhead as bench


def run(name: str, calls: int = 700) -> bench.Measured:
    return asyncio.run(bench.measure(bench.configs(3)[name], calls))


def test_a_failing_endpoint_is_ejected_and_probed_again_and_again() -> None:
    for name in ("round_robin + outlier, 1 endpoint failing", "peak_ewma + outlier, 1 endpoint failing"):
        m = run(name)
        assert m.statuses["UNAVAILABLE"] >= 3 and m.statuses["OK"] > 0, (name, m)
        assert m.counters.get("ejections", 0) >= 2 and m.counters.get("half_opened", 0) >= 1, (name, m)
        assert m.micros > 0


def test_caps_reject_calls_over_the_limit() -> None:
    m = run("caps rejecting (max_requests 2, 2 held)")
    assert m.counters["rejected_max_requests"] == m.statuses["UNAVAILABLE"] == 700
    assert "ejections" not in m.counters


def test_success_configurations_only_succeed() -> None:
    for name in ("round_robin (no policy)", "peak_ewma + caps + outlier + health"):
        m = run(name)
        assert set(m.statuses) == {"OK"} and m.statuses["OK"] == 700, (name, m)
        assert bench.describe(m) in ("", "admitted=700"), (name, m)
