"""The capacity a service's telemetry reveals, and when forecast demand reaches it (pure numpy).

1. `knee`: on (rate, p99) pairs, the load at which latency started to climb — the lowest rate
   bin whose median p99 exceeds `factor` x the low-load baseline and stays above it in every
   busier bin (one noisy bin is not a knee) — or the lowest rate with sustained rejections.
2. `little_capacity`: Little's law L = λ·W turned around: a concurrency limit L served at
   latency W sustains at most λ = L / W calls per second.
3. `crossing`: the first forecast step at or above a level, as a lead time in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Knee:
    rate: float  # calls/s at which latency (or rejections) started to climb
    baseline_p99: float  # seconds, at low load
    p99_at_knee: float
    points: int  # (rate, p99) pairs used
    cause: str  # "latency" or "rejections"

    def evidence(self) -> str:
        if self.cause == "rejections":
            return f"rejections start at ~{self.rate:.0f} calls/s ({self.points} points)"
        return (f"p99 climbs from {self.baseline_p99 * 1e3:.0f} ms to {self.p99_at_knee * 1e3:.0f} ms "
                f"above ~{self.rate:.0f} calls/s ({self.points} points)")  # fmt: skip


def knee(
    rates: Array,
    p99s: Array,
    rejections: Array | None = None,
    *,
    bins: int = 10,
    factor: float = 1.5,
    min_points: int = 20,
    min_per_bin: int = 2,
) -> Knee | None:
    """Where latency (or rejections) started to climb with load; None when the history shows no climb."""
    r = np.asarray(rates, dtype=np.float64)
    p = np.asarray(p99s, dtype=np.float64)
    ok = np.isfinite(r) & np.isfinite(p) & (r > 0)
    found: list[Knee] = []
    if int(ok.sum()) >= min_points:
        found += _latency_knee(r[ok], p[ok], bins, factor, min_per_bin)
    if rejections is not None:
        rej = np.asarray(rejections, dtype=np.float64)
        bad = np.isfinite(r) & np.isfinite(rej) & (rej > 0.01 * np.maximum(r, 1e-9))
        if int(bad.sum()) >= 3:
            base = float(np.nanmedian(p[ok])) if ok.any() else float("nan")
            low = float(np.percentile(r[bad], 10))
            found.append(Knee(low, base, base, int(bad.sum()), "rejections"))
    return min(found, key=lambda k: k.rate) if found else None


def _latency_knee(r: Array, p: Array, bins: int, factor: float, min_per_bin: int) -> list[Knee]:
    order = np.argsort(r, kind="stable")
    r, p = r[order], p[order]
    edges = np.unique(np.quantile(r, np.linspace(0, 1, bins + 1)))
    if edges.size < 3:
        return []
    idx = np.clip(np.searchsorted(edges, r, side="right") - 1, 0, edges.size - 2)
    meds, lows = [], []
    for b in range(edges.size - 1):
        sel = idx == b
        if int(sel.sum()) >= min_per_bin:
            meds.append(float(np.median(p[sel])))
            lows.append(float(r[sel].min()))
    if len(meds) < 3:
        return []
    n_base = max(1, len(meds) // 3)
    baseline = float(np.median(meds[:n_base]))
    above = np.array(meds) > factor * baseline
    for b in range(n_base, len(meds)):
        if above[b:].all():
            return [Knee(lows[b], baseline, meds[b], int(r.size), "latency")]
    return []


def little_capacity(concurrency_limit: float, latency_s: float) -> float | None:
    """Calls/s a concurrency limit sustains at a given mean latency (Little's law), None if unknown."""
    if concurrency_limit <= 0 or not np.isfinite(latency_s) or latency_s <= 0:
        return None
    return float(concurrency_limit / latency_s)


def crossing(forecast: Array, level: float, resolution_s: float, current: float | None = None) -> float | None:
    """Seconds until `forecast` (one value per `resolution_s`, step 1 first) first reaches `level`;
    0 when `current` already does; None when it never does within the horizon."""
    if current is not None and current >= level:
        return 0.0
    hit = np.flatnonzero(np.asarray(forecast, dtype=np.float64) >= level)
    return float((hit[0] + 1) * resolution_s) if hit.size else None


def trend_crossing(times: Array, values: Array, level: float, horizon_s: float, min_points: int = 5) -> float | None:
    """Seconds until a least-squares line through recent (time, value) points reaches `level`
    (0 if the last value already has; None if flat/falling or beyond `horizon_s`)."""
    t = np.asarray(times, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(t) & np.isfinite(v)
    t, v = t[ok], v[ok]
    if t.size < min_points:
        return None
    if v[-1] >= level:
        return 0.0
    slope, intercept = np.polyfit(t - t[-1], v, 1)
    if slope <= 0:
        return None
    eta = (level - intercept) / slope
    return float(max(eta, 0.0)) if eta <= horizon_s else None
