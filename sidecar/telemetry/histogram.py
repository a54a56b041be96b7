"""A mergeable latency histogram: fixed log-scale buckets (2^(1/8) wide), percentiles from counts.

Bucket i holds latencies v (in microseconds) with floor(log2(v) * 8) == i; anything under 1 µs
goes to bucket 0. Every sidecar uses the same fixed layout, so histograms from many windows and
many instances merge by adding counts index-wise, and a percentile read from the merged counts is
within one bucket (~4.5% relative) of the exact value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

SUB_BUCKETS = 8  # buckets per power of two
SCHEME = 1  # LatencyHistogram.scheme for this layout
_LOG2 = math.log2


def bucket_index(seconds: float) -> int:
    """The bucket of a latency given in seconds."""
    micros = seconds * 1e6
    if micros <= 1.0:
        return 0
    return int(_LOG2(micros) * SUB_BUCKETS)


def bucket_lower(index: int) -> float:
    """Lower bound of bucket `index`, in seconds (bucket 0 also holds everything below 1 µs)."""
    return float(2.0 ** (max(index, 0) / SUB_BUCKETS) / 1e6)


def bucket_upper(index: int) -> float:
    """Upper bound of bucket `index`, in seconds."""
    return float(2.0 ** ((index + 1) / SUB_BUCKETS) / 1e6)


class Histogram:
    """Sparse counts per bucket plus count, sum and max; `record` is the only data-path call."""

    __slots__ = ("buckets", "count", "max", "sum")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.sum = 0.0
        self.max = 0.0

    def record(self, seconds: float) -> None:
        micros = seconds * 1e6
        index = 0 if micros <= 1.0 else int(_LOG2(micros) * SUB_BUCKETS)
        buckets = self.buckets
        buckets[index] = buckets.get(index, 0) + 1
        self.count += 1
        self.sum += seconds
        if seconds > self.max:
            self.max = seconds

    def copy(self) -> Histogram:
        other = Histogram()
        other.buckets = dict(self.buckets)
        other.count, other.sum, other.max = self.count, self.sum, self.max
        return other

    def merge(self, other: Histogram) -> None:
        """Add `other`'s counts into this histogram."""
        for index, n in other.buckets.items():
            self.buckets[index] = self.buckets.get(index, 0) + n
        self.count += other.count
        self.sum += other.sum
        self.max = max(self.max, other.max)

    def minus(self, earlier: Histogram) -> Histogram:
        """The counts recorded since `earlier` (a copy taken from this same histogram). Max is not
        a delta: it stays the max seen so far unless the window recorded nothing."""
        delta = Histogram()
        old = earlier.buckets
        delta.buckets = {i: n - old.get(i, 0) for i, n in self.buckets.items() if n != old.get(i, 0)}
        delta.count = self.count - earlier.count
        delta.sum = max(self.sum - earlier.sum, 0.0)
        delta.max = self.max if delta.count else 0.0
        return delta

    def percentile(self, q: float) -> float:
        return percentile(self.buckets, q)

    def cumulative(self, bounds: Iterable[float]) -> list[int]:
        """Counts at or below each bound (seconds), for Prometheus `le` buckets."""
        return cumulative(self.buckets, bounds)


def percentile(buckets: Mapping[int, int], q: float) -> float:
    """The q-th percentile (0..100) in seconds, read as the midpoint (geometric) of its bucket.

    1. Rank = ceil(q/100 * total) (at least 1).
    2. Walk buckets in index order until the running count reaches the rank.
    3. Answer that bucket's geometric midpoint (bucket 0 counts from 1 µs: sub-µs latencies read as ~1 µs).
    """
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    total = sum(buckets.values())
    if total == 0:
        return 0.0
    rank = max(1, math.ceil(q / 100.0 * total))
    seen = 0
    for index in sorted(buckets):
        seen += buckets[index]
        if seen >= rank:
            return math.sqrt(bucket_lower(index) * bucket_upper(index))
    raise AssertionError("unreachable: rank exceeds the total")


def cumulative(buckets: Mapping[int, int], bounds: Iterable[float]) -> list[int]:
    """For each bound b (seconds; ascending), how many values fall in buckets whose upper edge <= b.

    Bounds should sit on bucket edges (powers of two microseconds are) to be exact.
    """
    items = sorted(buckets.items())
    out: list[int] = []
    acc = 0
    pos = 0
    for bound in bounds:
        while pos < len(items) and bucket_upper(items[pos][0]) <= bound * (1 + 1e-9):
            acc += items[pos][1]
            pos += 1
        out.append(acc)
    return out


def dense(buckets: Mapping[int, int]) -> tuple[int, list[int]]:
    """(offset, counts) covering the non-zero buckets, for the protobuf encoding."""
    if not buckets:
        return 0, []
    low, high = min(buckets), max(buckets)
    return low, [buckets.get(i, 0) for i in range(low, high + 1)]


def sparse(offset: int, counts: Iterable[int]) -> dict[int, int]:
    """The inverse of `dense`."""
    return {offset + i: n for i, n in enumerate(counts) if n}


# Prometheus `le` bounds: powers of two microseconds (bucket edges), 64 µs .. ~67 s.
PROMETHEUS_BOUNDS: tuple[float, ...] = tuple(2.0**k / 1e6 for k in range(6, 27))
