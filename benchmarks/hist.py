"""A mergeable log-bucketed latency histogram (relative error ≤ 1%), pure and picklable.

Values are recorded in microseconds. Bucket i holds values v with floor(log(v) / log(1 + ε)) == i, so
every bucket's width is ε of its lower bound (HdrHistogram-style constant relative precision) and two
histograms merge by adding counts bucket by bucket — workers each keep one, the parent adds them up.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

EPSILON = 0.01
_LOG_BASE = math.log1p(EPSILON)
PERCENTILES = (50.0, 90.0, 99.0, 99.9)


def bucket_of(value_us: float) -> int:
    """The bucket index of a value (values below 1 µs share bucket 0)."""
    if value_us <= 1.0:
        return 0
    return int(math.log(value_us) / _LOG_BASE)


def bucket_value(index: int) -> float:
    """The representative value of a bucket: its midpoint (error ≤ ε/2 of the true value)."""
    low = math.exp(index * _LOG_BASE)
    return low * (1.0 + EPSILON / 2.0)


@dataclass
class Histogram:
    counts: dict[int, int] = field(default_factory=dict)
    total: int = 0
    min_us: float = math.inf
    max_us: float = 0.0
    sum_us: float = 0.0

    def record(self, value_us: float) -> None:
        index = bucket_of(value_us)
        self.counts[index] = self.counts.get(index, 0) + 1
        self.total += 1
        self.sum_us += value_us
        if value_us < self.min_us:
            self.min_us = value_us
        if value_us > self.max_us:
            self.max_us = value_us

    def merge(self, other: Histogram) -> Histogram:
        """Add `other` into this histogram and return self."""
        for index, n in other.counts.items():
            self.counts[index] = self.counts.get(index, 0) + n
        self.total += other.total
        self.sum_us += other.sum_us
        self.min_us = min(self.min_us, other.min_us)
        self.max_us = max(self.max_us, other.max_us)
        return self

    @classmethod
    def merged(cls, parts: Iterable[Histogram]) -> Histogram:
        result = cls()
        for part in parts:
            result.merge(part)
        return result

    def percentile(self, pct: float) -> float:
        """The value at percentile `pct` (0..100); 0.0 for an empty histogram. The max is exact."""
        if self.total == 0:
            return 0.0
        if pct >= 100.0:
            return self.max_us
        # 1. the rank of the wanted value (1-based, nearest-rank definition)
        rank = max(1, math.ceil(pct / 100.0 * self.total))
        # 2. walk the buckets in value order until the cumulative count reaches it
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                # 3. clamp the bucket's midpoint into the observed range
                return min(max(bucket_value(index), self.min_us), self.max_us)
        return self.max_us

    def mean(self) -> float:
        return self.sum_us / self.total if self.total else 0.0

    def summary(self) -> dict[str, float]:
        """p50/p90/p99/p99.9/max/mean in microseconds."""
        out = {f"p{p:g}": round(self.percentile(p), 1) for p in PERCENTILES}
        out["max"] = round(self.max_us, 1)
        out["mean"] = round(self.mean(), 1)
        return out

    def curve(self, points: Iterable[float]) -> list[tuple[float, float]]:
        """(percentile, value) pairs for a percentile plot."""
        return [(p, self.percentile(p)) for p in points]

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": {str(k): v for k, v in sorted(self.counts.items())},
            "total": self.total,
            "min_us": None if self.total == 0 else self.min_us,
            "max_us": self.max_us,
            "sum_us": self.sum_us,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Histogram:
        return cls(
            counts={int(k): int(v) for k, v in data["counts"].items()},
            total=int(data["total"]),
            min_us=math.inf if data["min_us"] is None else float(data["min_us"]),
            max_us=float(data["max_us"]),
            sum_us=float(data["sum_us"]),
        )
