"""The ingest scale-out benchmark's checks: a window lost or ingested twice fails the run; rates are honest."""

from __future__ import annotations

import random
from typing import Any

import pytest
from apex.mesh.contract import entries
from apex.mesh.contract.streams import WINDOW_FIELD

from benchmarks.ingest_scale import make_window, summarize


def result(seen: list[tuple[str, str, int]], started: float, finished: float, cpu: float) -> dict[str, Any]:
    return {"started": started, "finished": finished, "cpu_seconds": cpu, "windows": len(seen), "seen": seen}


def test_summary_counts_only_the_benchmark_services_and_times_the_whole_run() -> None:
    a = result([("s1", "i", 0), ("s1", "i", 1), ("other", "x", 0)], 10.0, 11.0, 0.5)
    b = result([("s2", "i", 0), ("s2", "i", 1)], 10.5, 12.0, 0.5)
    summary = summarize([a, b], expected=4, services={"s1", "s2"})
    assert summary["per_process"] == [2, 2]
    assert summary["seconds"] == 2.0 and summary["windows_per_second"] == 2.0  # first start to last ack
    assert summary["windows_per_cpu_second"] == 4.0


def test_a_window_ingested_twice_or_lost_fails_the_run() -> None:
    a = result([("s", "i", 0), ("s", "i", 1)], 0.0, 1.0, 0.1)
    twice = result([("s", "i", 1)], 0.0, 1.0, 0.1)
    with pytest.raises(AssertionError, match="1 windows ingested twice"):
        summarize([a, twice], expected=2, services={"s"})
    with pytest.raises(AssertionError, match="ingested 2 windows, expected 3"):
        summarize([a], expected=3, services={"s"})


def test_generated_windows_pass_the_contract_with_their_histogram() -> None:
    window = entries.decode_window({WINDOW_FIELD: make_window("s", "s-0", 7, random.Random(1))})
    (route,) = window.routes
    assert (window.service, window.sequence, route.stats.calls, route.stats.latency.count) == ("s", 7, 50, 50)
