"""The cache benchmark in miniature (real Echo process, real sidecar): each scenario's counters
agree with its name — hits answered by the cache without reaching the upstream, misses and plain
calls reaching it once each — and a mislabelled scenario is reported."""

from __future__ import annotations

import argparse

import pytest
import uvloop

from benchmarks import cache_bench

pytestmark = pytest.mark.integration


def test_hits_hit_and_misses_miss_by_the_counters() -> None:
    args = argparse.Namespace(calls=60, concurrency="2", service_ms="0", response_size=64)
    results = uvloop.run(cache_bench.main_async(args))
    assert [r.scenario for r in results] == ["direct", "plain", "miss", "hit"]
    assert cache_bench.problems(results) == []
    by = {r.scenario: r for r in results}
    assert (by["hit"].hits, by["hit"].upstream_calls) == (60, 0)
    assert (by["miss"].misses, by["miss"].upstream_calls) == (60, 60)
    assert by["hit"].cpu_us is not None and by["hit"].cpu_us > 0
    assert by["plain"].cpu_us is not None and by["plain"].cpu_us > 0


def test_a_hit_scenario_that_reached_the_upstream_is_a_problem() -> None:
    fake = cache_bench.Result("hit", 0, 1, 10, 1.0, 1.0, 10.0, 5.0, hits=0, misses=10, upstream_calls=10)
    assert cache_bench.problems([fake]) == [
        "hit (0 ms, c=1): hits, misses, upstream calls = (0, 10, 10), expected (10, 0, 0) for 10 calls"
    ]
