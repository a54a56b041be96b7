"""The latency histogram: relative precision, exact max, and merging equals recording everything in one."""

from __future__ import annotations

import math
import random

from hypothesis import given
from hypothesis import strategies as st

from benchmarks.hist import EPSILON, Histogram


def _exact(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(pct / 100 * len(ordered))) - 1]


@given(st.lists(st.floats(min_value=1.0, max_value=1e8), min_size=1, max_size=300), st.sampled_from([50, 90, 99, 99.9]))
def test_percentile_within_relative_error(values: list[float], pct: float) -> None:
    hist = Histogram()
    for v in values:
        hist.record(v)
    exact = _exact(values, pct)
    assert abs(hist.percentile(pct) - exact) <= exact * EPSILON
    assert hist.percentile(100) == max(values)
    assert hist.total == len(values)


@given(st.lists(st.floats(min_value=0.0, max_value=1e7), max_size=200), st.integers(min_value=1, max_value=5))
def test_merging_parts_equals_one_histogram(values: list[float], parts: int) -> None:
    whole = Histogram()
    pieces = [Histogram() for _ in range(parts)]
    for i, v in enumerate(values):
        whole.record(v)
        pieces[i % parts].record(v)
    merged = Histogram.merged(pieces)
    assert merged.counts == whole.counts
    assert merged.total == whole.total
    assert merged.max_us == whole.max_us
    assert merged.summary() == whole.summary()


def test_round_trips_through_json_dict() -> None:
    rng = random.Random(7)
    hist = Histogram()
    for _ in range(1000):
        hist.record(rng.lognormvariate(6, 1))
    again = Histogram.from_dict(hist.to_dict())
    assert again.counts == hist.counts
    assert again.summary() == hist.summary()


def test_empty_histogram_reports_zeros() -> None:
    hist = Histogram()
    assert hist.percentile(99) == 0.0
    assert hist.summary()["p50"] == 0.0
    assert Histogram.from_dict(hist.to_dict()).total == 0
