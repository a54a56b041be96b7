"""The histogram codec: bucket edges, quantiles within the stated error, merge == record-all, validated decode."""

from __future__ import annotations

import math
import random

import pytest
from apex.mesh.contract import histogram
from apex.mesh.contract.histogram import FINE, STANDARD, Histogram, HistogramError
from apex.mesh.v1 import telemetry_pb2
from hypothesis import given
from hypothesis import strategies as st

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
    assert abs(estimate - exact) <= histogram.RELATIVE_ERROR * exact * (1 + 1e-9)


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


def test_bucket_edges() -> None:
    assert STANDARD.index(0.0) == 0 and STANDARD.index(1e-7) == 0 and STANDARD.index(float("nan")) == 0
    assert STANDARD.index(2e-6) == 8  # 2 µs: one octave above 1 µs
    assert STANDARD.upper(7) == pytest.approx(2e-6)
    assert STANDARD.index(1e9) == STANDARD.max_index == 320  # beyond 2^40 µs: the top bucket
    h = Histogram()
    h.record(float("inf"))
    h.record(1e12)
    assert h.buckets == {STANDARD.max_index: 2}
    assert pytest.approx(0.0443, abs=1e-4) == histogram.RELATIVE_ERROR and FINE.relative_error < 0.006


def test_encode_decode_round_trip() -> None:
    h = Histogram()
    for v in (3e-6, 3e-6, 0.001, 0.25):
        h.record(v)
    msg = histogram.encode(h)
    assert msg.scheme == 1 and msg.offset == min(h.buckets) and len(msg.counts) == max(h.buckets) - min(h.buckets) + 1
    back = histogram.decode(telemetry_pb2.LatencyHistogram.FromString(msg.SerializeToString()))
    assert back.buckets == h.buckets and back.count == 4 and back.max == 0.25 and back.layout == STANDARD
    empty = histogram.decode(telemetry_pb2.LatencyHistogram())  # unset: an empty histogram
    assert empty.count == 0 and empty.buckets == {}
    assert histogram.decode(histogram.encode(Histogram())).count == 0


def _msg(**fields: object) -> telemetry_pb2.LatencyHistogram:
    base: dict[str, object] = {"scheme": 1, "offset": 100, "counts": [1, 0, 2], "count": 3, "sum_seconds": 0.1}
    base.update(fields)
    return telemetry_pb2.LatencyHistogram(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"scheme": 7}, r"latency\.scheme: unknown histogram scheme 7"),
        ({"scheme": 0}, r"latency\.scheme: 0 \(unset\) but the histogram has counts"),
        ({"offset": 2**31 - 1}, r"latency\.offset: 2147483647 with 3 counts is outside buckets 0\.\.320"),
        ({"offset": -1}, r"latency\.offset: -1"),
        ({"offset": 319}, r"latency\.offset: 319 with 3 counts"),
        ({"offset": 0, "counts": [1] * 400, "count": 400}, r"latency\.counts: 400 buckets, scheme 1 has 321"),
        ({"count": 4}, r"latency\.count: 4, but the counts add up to 3"),
        ({"sum_seconds": float("nan")}, r"latency\.sum_seconds: nan"),
        ({"max_seconds": -1.0}, r"latency\.max_seconds: -1\.0"),
    ],
)
def test_decode_rejects_what_no_sidecar_writes(fields: dict[str, object], match: str) -> None:
    with pytest.raises(HistogramError, match=match):
        histogram.decode(_msg(**fields))


def test_decode_names_where_the_histogram_was() -> None:
    with pytest.raises(HistogramError, match=r"^routes\[2\]\.stats\.latency\.scheme"):
        histogram.decode(_msg(scheme=9), "routes[2].stats.latency")


def test_top_bucket_is_accepted() -> None:
    h = histogram.decode(_msg(offset=318))
    assert max(h.buckets) == STANDARD.max_index


@given(latencies, latencies)
def test_fine_coarsens_exactly_into_standard(a: list[float], b: list[float]) -> None:
    fine, coarse = Histogram(FINE), Histogram()
    for v in a:
        fine.record(v)
        coarse.record(v)
    assert histogram.coarsen(fine, STANDARD).buckets == coarse.buckets
    other = Histogram()
    for v in b:
        other.record(v)
    mixed = histogram.merge([fine, other])
    assert mixed.layout == STANDARD and mixed.count == len(a) + len(b)
    with pytest.raises(ValueError, match="cannot merge"):
        other.merge(fine)


def test_quantiles_in_one_pass_match_percentile() -> None:
    rng = random.Random(11)
    h = Histogram()
    for _ in range(1000):
        h.record(rng.lognormvariate(-5, 1))
    q = h.quantiles((50.0, 95.0, 99.0, 0.0, 100.0))
    assert q == {p: h.percentile(p) for p in (50.0, 95.0, 99.0, 0.0, 100.0)}
    assert histogram.merge([]).count == 0 and Histogram().quantiles((50.0,)) == {50.0: 0.0}


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
