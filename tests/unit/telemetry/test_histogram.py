"""The log-scale histogram: bucket edges, percentiles within one bucket, merge == record-all."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sidecar.telemetry import histogram
from sidecar.telemetry.histogram import Histogram

latencies = st.lists(st.floats(min_value=1e-6, max_value=60.0, allow_nan=False), min_size=1, max_size=300)


def exact_percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


@given(latencies, st.sampled_from([1.0, 50.0, 90.0, 99.0, 100.0]))
def test_percentile_is_within_one_bucket_of_the_exact_value(values: list[float], q: float) -> None:
    h = Histogram()
    for v in values:
        h.record(v)
    exact = exact_percentile(values, q)
    estimate = h.percentile(q)
    ratio = 2 ** (1 / histogram.SUB_BUCKETS)
    assert exact / ratio <= estimate <= exact * ratio


@given(latencies, latencies)
def test_merging_equals_recording_everything_in_one(a: list[float], b: list[float]) -> None:
    ha, hb, both = Histogram(), Histogram(), Histogram()
    for v in a:
        ha.record(v)
        both.record(v)
    for v in b:
        hb.record(v)
        both.record(v)
    ha.merge(hb)
    assert ha.buckets == both.buckets and ha.count == both.count and ha.max == both.max
    assert ha.sum == pytest.approx(both.sum)


def test_minus_gives_what_was_recorded_since_the_copy() -> None:
    rng = random.Random(3)
    h = Histogram()
    for _ in range(100):
        h.record(rng.uniform(0.001, 0.01))
    earlier = h.copy()
    later = [rng.uniform(0.05, 0.5) for _ in range(40)]
    for v in later:
        h.record(v)
    delta = h.minus(earlier)
    assert delta.count == 40 and sum(delta.buckets.values()) == 40
    assert delta.sum == pytest.approx(sum(later))
    assert h.minus(h.copy()).count == 0 and h.minus(h.copy()).max == 0.0


def test_bucket_edges_and_dense_round_trip() -> None:
    assert histogram.bucket_index(0.0) == 0 and histogram.bucket_index(1e-7) == 0
    assert histogram.bucket_index(2e-6) == 8  # 2 µs: one octave above 1 µs
    assert histogram.bucket_upper(7) == pytest.approx(2e-6)
    buckets = {3: 2, 9: 1, 12: 5}
    offset, counts = histogram.dense(buckets)
    assert offset == 3 and len(counts) == 10
    assert histogram.sparse(offset, counts) == buckets
    assert histogram.dense({}) == (0, [])


def test_cumulative_counts_for_prometheus_bounds() -> None:
    h = Histogram()
    for v in (0.0001, 0.0001, 0.003, 0.2, 100.0):
        h.record(v)
    cum = h.cumulative(histogram.PROMETHEUS_BOUNDS)
    assert cum == sorted(cum) and cum[-1] == 4  # 100 s is beyond the last bound (only in +Inf)
    assert cum[histogram.PROMETHEUS_BOUNDS.index(2.0**7 / 1e6)] == 2  # 128 µs holds both 100 µs values


def test_percentile_rejects_out_of_range_and_handles_empty() -> None:
    with pytest.raises(ValueError, match=r"0\.\.100"):
        histogram.percentile({1: 1}, 101)
    assert histogram.percentile({}, 50) == 0.0
