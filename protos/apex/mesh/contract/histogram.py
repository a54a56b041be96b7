"""The latency histogram codec: log-scale bucket layouts, record/merge/quantiles, LatencyHistogram encode/decode.

Scheme 1 (what sidecars publish): bucket i holds latencies v (in microseconds) with
floor(log2(v) * 8) == i; anything at or under 1 µs goes to bucket 0, anything at or over 2^40 µs
(~12.7 days) to the last bucket. Every producer uses the same fixed layout, so histograms from
many windows and many instances merge by adding counts index-wise. A quantile is read as the
geometric midpoint of the bucket holding its rank, so it is within RELATIVE_ERROR (2^(1/16) - 1,
4.4%) of the exact value of that rank, however many histograms were merged.

Scheme 2 is the same layout with 64 buckets per power of two (0.54% error) for consumers that
need more precision; because 64 is a multiple of 8, a scheme-2 histogram coarsens exactly into
scheme 1 (`coarsen`), and `merge` of mixed schemes answers in the coarser one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from apex.mesh.v1 import telemetry_pb2

_LOG2 = math.log2
MAX_LOG2_MICROS = 40  # 2^40 µs ≈ 12.7 days: the top bucket holds everything longer
_TOP_MICROS = 2.0**MAX_LOG2_MICROS


@dataclass(frozen=True, slots=True)
class Layout:
    """A bucket layout: `sub_buckets` buckets per power of two microseconds."""

    scheme: int
    sub_buckets: int

    @property
    def max_index(self) -> int:
        return MAX_LOG2_MICROS * self.sub_buckets

    @property
    def relative_error(self) -> float:
        """Largest |estimate - exact| / exact of a quantile read as its bucket's geometric midpoint."""
        return float(2.0 ** (1.0 / (2 * self.sub_buckets)) - 1.0)

    def index(self, seconds: float) -> int:
        micros = seconds * 1e6
        if not micros > 1.0:  # also NaN
            return 0
        if micros >= _TOP_MICROS:
            return self.max_index
        return int(_LOG2(micros) * self.sub_buckets)

    def lower(self, index: int) -> float:
        """Lower edge of bucket `index`, in seconds (bucket 0 also holds everything below 1 µs)."""
        return float(2.0 ** (max(index, 0) / self.sub_buckets) / 1e6)

    def upper(self, index: int) -> float:
        return float(2.0 ** ((index + 1) / self.sub_buckets) / 1e6)

    def midpoint(self, index: int) -> float:
        return math.sqrt(self.lower(index) * self.upper(index))


STANDARD = Layout(scheme=1, sub_buckets=8)
FINE = Layout(scheme=2, sub_buckets=64)
LAYOUTS: dict[int, Layout] = {STANDARD.scheme: STANDARD, FINE.scheme: FINE}
RELATIVE_ERROR = STANDARD.relative_error

# Prometheus `le` bounds: powers of two microseconds (edges of every layout), 64 µs .. ~67 s.
PROMETHEUS_BOUNDS: tuple[float, ...] = tuple(2.0**k / 1e6 for k in range(6, 27))


class HistogramError(ValueError):
    """A LatencyHistogram that cannot be decoded; the message names the field and the reason."""


class Histogram:
    """Sparse counts per bucket plus count, sum and max; `record` is the only data-path call."""

    __slots__ = ("_sub", "_top", "buckets", "count", "layout", "max", "sum")

    def __init__(self, layout: Layout = STANDARD) -> None:
        self.layout = layout
        self._sub = layout.sub_buckets
        self._top = layout.max_index
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.sum = 0.0
        self.max = 0.0

    def record(self, seconds: float) -> None:
        # Layout.index, inlined: this runs once per call on the data path.
        micros = seconds * 1e6
        # The common case costs one chained comparison; NaN and sub-µs go to 0, beyond 2^40 µs to the top.
        index = int(_LOG2(micros) * self._sub) if 1.0 < micros < _TOP_MICROS else (self._top if micros > 1.0 else 0)
        buckets = self.buckets
        buckets[index] = buckets.get(index, 0) + 1
        self.count += 1
        self.sum += seconds
        if seconds > self.max:
            self.max = seconds

    def copy(self) -> Histogram:
        other = Histogram(self.layout)
        other.buckets = dict(self.buckets)
        other.count, other.sum, other.max = self.count, self.sum, self.max
        return other

    def merge(self, other: Histogram) -> None:
        """Add `other`'s counts into this histogram (same layout; see `merge()` for mixed ones)."""
        if other.layout != self.layout:
            raise ValueError(f"cannot merge scheme {other.layout.scheme} into scheme {self.layout.scheme}")
        for index, n in other.buckets.items():
            self.buckets[index] = self.buckets.get(index, 0) + n
        self.count += other.count
        self.sum += other.sum
        self.max = max(self.max, other.max)

    def minus(self, earlier: Histogram) -> Histogram:
        """The counts recorded since `earlier` (a copy taken from this same histogram). Max is not
        a delta: it stays the max seen so far unless the window recorded nothing."""
        delta = Histogram(self.layout)
        old = earlier.buckets
        delta.buckets = {i: n - old.get(i, 0) for i, n in self.buckets.items() if n != old.get(i, 0)}
        delta.count = self.count - earlier.count
        delta.sum = max(self.sum - earlier.sum, 0.0)
        delta.max = self.max if delta.count else 0.0
        return delta

    def percentile(self, q: float) -> float:
        """The q-th percentile (0..100) in seconds, within `layout.relative_error` of the exact one."""
        return percentile(self.buckets, q, self.layout)

    def quantiles(self, qs: Sequence[float] = (50.0, 95.0, 99.0)) -> dict[float, float]:
        """{q: percentile} in seconds, in one pass over the buckets."""
        return quantiles(self.buckets, qs, self.layout)

    def cumulative(self, bounds: Iterable[float]) -> list[int]:
        """Counts at or below each bound (seconds), for Prometheus `le` buckets."""
        return cumulative(self.buckets, bounds, self.layout)


def percentile(buckets: Mapping[int, int], q: float, layout: Layout = STANDARD) -> float:
    return quantiles(buckets, (q,), layout)[q]


def quantiles(buckets: Mapping[int, int], qs: Sequence[float], layout: Layout = STANDARD) -> dict[float, float]:
    """Percentiles (0..100) in seconds, each read as the geometric midpoint of its bucket.

    1. Rank of q = ceil(q/100 * total) (at least 1): the nearest-rank definition.
    2. Walk buckets in index order until the running count reaches the rank.
    3. Answer that bucket's geometric midpoint (bucket 0 counts from 1 µs: sub-µs latencies read as ~1 µs).
    An empty histogram answers 0.0 for every q.
    """
    for q in qs:
        if not 0.0 <= q <= 100.0:
            raise ValueError(f"percentile must be within 0..100, got {q}")
    total = sum(buckets.values())
    if total == 0:
        return {q: 0.0 for q in qs}
    wanted = sorted((max(1, math.ceil(q / 100.0 * total)), q) for q in qs)
    out: dict[float, float] = {}
    seen = 0
    pos = 0
    for index in sorted(buckets):
        seen += buckets[index]
        while pos < len(wanted) and seen >= wanted[pos][0]:
            out[wanted[pos][1]] = layout.midpoint(index)
            pos += 1
        if pos == len(wanted):
            break
    return out


def cumulative(buckets: Mapping[int, int], bounds: Iterable[float], layout: Layout = STANDARD) -> list[int]:
    """For each bound b (seconds; ascending), how many values fall in buckets whose upper edge <= b.

    Bounds should sit on bucket edges (powers of two microseconds do) to be exact.
    """
    items = sorted(buckets.items())
    out: list[int] = []
    acc = 0
    pos = 0
    for bound in bounds:
        while pos < len(items) and layout.upper(items[pos][0]) <= bound * (1 + 1e-9):
            acc += items[pos][1]
            pos += 1
        out.append(acc)
    return out


def coarsen(h: Histogram, layout: Layout) -> Histogram:
    """`h` in a coarser layout whose sub_buckets divides h's: exact (floor(floor(x*k*m)/m) == floor(x*k))."""
    if h.layout == layout:
        return h
    if h.layout.sub_buckets % layout.sub_buckets:
        raise ValueError(f"scheme {h.layout.scheme} does not coarsen into scheme {layout.scheme}")
    factor = h.layout.sub_buckets // layout.sub_buckets
    out = Histogram(layout)
    for index, n in h.buckets.items():
        out.buckets[index // factor] = out.buckets.get(index // factor, 0) + n
    out.count, out.sum, out.max = h.count, h.sum, h.max
    return out


def merge(histograms: Iterable[Histogram]) -> Histogram:
    """One histogram holding every count of `histograms` (in the coarsest layout among them)."""
    parts = list(histograms)
    if not parts:
        return Histogram()
    layout = min((h.layout for h in parts), key=lambda lay: lay.sub_buckets)
    out = Histogram(layout)
    for h in parts:
        out.merge(coarsen(h, layout))
    return out


def encode(h: Histogram, out: telemetry_pb2.LatencyHistogram | None = None) -> telemetry_pb2.LatencyHistogram:
    """Write `h` into `out` (cleared first; a new message if None): dense counts from the lowest bucket."""
    msg = telemetry_pb2.LatencyHistogram() if out is None else out
    msg.Clear()
    msg.scheme = h.layout.scheme
    if h.buckets:
        low, high = min(h.buckets), max(h.buckets)
        msg.offset = low
        msg.counts.extend(h.buckets.get(i, 0) for i in range(low, high + 1))
    msg.count = h.count
    msg.sum_seconds = h.sum
    msg.max_seconds = h.max
    return msg


def decode(msg: telemetry_pb2.LatencyHistogram, where: str = "latency") -> Histogram:
    """The Histogram in `msg`, validated; HistogramError (naming `where` and the field) if it is not one.

    Checks: 1. a known scheme (0 only for an empty, unset histogram); 2. offset and offset+len(counts)
    within the layout's buckets 0..max_index; 3. count == sum of counts; 4. sum and max finite, >= 0.
    """
    if msg.scheme == 0:
        if msg.counts or msg.count:
            raise HistogramError(f"{where}.scheme: 0 (unset) but the histogram has counts")
        return Histogram()
    layout = LAYOUTS.get(msg.scheme)
    if layout is None:
        raise HistogramError(f"{where}.scheme: unknown histogram scheme {msg.scheme} (known: {sorted(LAYOUTS)})")
    n = len(msg.counts)
    if n > layout.max_index + 1:
        raise HistogramError(f"{where}.counts: {n} buckets, scheme {layout.scheme} has {layout.max_index + 1}")
    if not 0 <= msg.offset <= layout.max_index + 1 - max(n, 1):
        raise HistogramError(
            f"{where}.offset: {msg.offset} with {n} counts is outside buckets 0..{layout.max_index} "
            f"of scheme {layout.scheme}"
        )
    total = sum(msg.counts)
    if total != msg.count:
        raise HistogramError(f"{where}.count: {msg.count}, but the counts add up to {total}")
    for name, value in (("sum_seconds", msg.sum_seconds), ("max_seconds", msg.max_seconds)):
        if not (math.isfinite(value) and value >= 0.0):
            raise HistogramError(f"{where}.{name}: {value} is not a finite, non-negative number")
    h = Histogram(layout)
    h.buckets = {msg.offset + i: c for i, c in enumerate(msg.counts) if c}
    h.count, h.sum, h.max = msg.count, msg.sum_seconds, msg.max_seconds
    return h
