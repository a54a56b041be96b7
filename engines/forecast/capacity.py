"""The capacity a service's telemetry reveals, and when forecast demand reaches it (pure numpy).

1. `knee`: on (rate, p99) pairs, the load at which latency started to climb — the lowest rate
   bin whose median p99 exceeds `factor` x the low-load baseline and stays above it in every
   busier bin (one noisy bin is not a knee) — or the lowest rate with sustained rejections.
2. `queue_fit`: the queueing curve W(λ) = W0 / (1 - (λ/μ)^k) fitted to (rate, latency) pairs by
   least squares on log latency — μ the capacity, W0 the unloaded latency, k (1..32) how sharp the
   turn is (k = 1 is M/M/1's mean; many servers or steady arrivals turn later and harder) — with a
   profile-likelihood interval over μ, and only when the curve beats a flat line significantly.
3. `demand`: what arrives per second — the calls started, or where a producer does not report
   them, the completion rate plus the growth of the calls in flight (arrived, not yet completed):
   past capacity the completion rate stays flat while the backlog, and the demand, grow.
4. `little_capacity`: Little's law L = λ·W turned around: a concurrency limit L served at
   latency W sustains at most λ = L / W calls per second.
5. `crossing`: the first forecast step at or above a level, as a lead time in seconds.
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


@dataclass(frozen=True, slots=True)
class QueueFit:
    capacity: float  # μ, calls/s
    lower: float  # its ~95% profile-likelihood interval
    upper: float
    k: int  # the curve's sharpness
    baseline: float  # W0: the latency at no load, seconds
    points: int  # (rate, latency) pairs used
    climbing: int  # of which latency is above `climb` x W0 (the evidence of the turn)
    lr: float  # likelihood ratio statistic of the curve against a flat line

    def evidence(self) -> str:
        return (f"queueing curve: latency {self.baseline * 1e3:.0f} ms at no load, capacity ~{_calls(self.capacity)} "
                f"calls/s (95% {_calls(self.lower)}-{_calls(self.upper)}, k={self.k}, {self.climbing} of "
                f"{self.points} points climbing)")  # fmt: skip


def _calls(x: float) -> str:
    return f"{x:.1f}" if x < 100 else f"{x:.0f}"


def queue_fit(
    rates: Array,
    latencies: Array,
    *,
    ks: tuple[int, ...] = tuple(range(1, 33)),
    max_ratio: float = 4.0,
    grid: int = 160,
    floor: float = 0.02,
    gate: float = 13.8,
    level: float = 3.84,
    climb: float = 1.15,
    min_points: int = 20,
    min_climbing: int = 2,
) -> QueueFit | None:
    """The capacity μ a queueing curve W0 / (1 - (λ/μ)^k) through (rate, latency) pairs puts the
    service at, with a ~95% interval; None when the pairs do not show the curve.

    `rates` are completion rates (what was served, never above what can be): μ is searched above the
    highest of them, up to `max_ratio` times it, on a geometric grid of μ/max - 1 (`grid` points, fine
    where the curve turns). Per k and μ the fit is linear in log W0 (closed form); k is the best of
    `ks` at each μ (the profile). The errors are log latency (a latency twice too high weighs as one
    half as high), with a noise floor `floor` (the histogram's resolution: quantised latencies that
    sit exactly on the line would otherwise make any turn "significant").

    Refused (None) with fewer than `min_points` usable pairs; when the likelihood-ratio statistic
    n·log(RSS_flat / RSS_curve) is below `gate` (13.8: χ² with 2 degrees of freedom at 0.001, the
    search over μ and k is a multiple test); when fewer than `min_climbing` points are above `climb`
    x W0 both measured and fitted (one slow second is not a turn); and when the interval
    {μ : n·log(RSS(μ) / RSS_min) <= `level`} reaches the top of the grid (the data do not bound μ).
    """
    if not ks or min(ks) < 1 or max_ratio <= 1 or grid < 8 or floor <= 0 or climb <= 1:
        raise ValueError("ks >= 1, max_ratio > 1, grid >= 8, floor > 0 and climb > 1 are required")
    r = np.asarray(rates, dtype=np.float64)
    w = np.asarray(latencies, dtype=np.float64)
    if r.shape != w.shape:
        raise ValueError(f"rates and latencies differ in length: {r.shape} vs {w.shape}")
    ok = np.isfinite(r) & np.isfinite(w) & (r > 0) & (w > 0)
    n = int(ok.sum())
    if n < min_points:
        return None
    r, y = r[ok], np.log(w[ok])
    top = float(r.max())
    mus = top * (1 + np.geomspace(1e-3, max_ratio - 1, grid))
    noise = n * floor**2
    yc = y - y.mean()
    ss = float(yc @ yc)
    rss0 = max(ss, noise)
    if n * np.log(rss0 / noise) < gate:
        return None  # no curve can beat the line by `gate`: its RSS is at least the noise floor
    x = r[None, :] / mus[:, None]  # grid x n, all < 1
    best_rss = np.full(grid, np.inf)
    best_k = np.zeros(grid, dtype=np.int64)
    wanted, xk = set(ks), np.ones_like(x)
    for k in range(1, max(ks) + 1):
        xk *= x  # x^k by one multiplication per k
        if k not in wanted:
            continue
        # residuals d = log W + log(1 - x^k) - log W0 with the closed-form log W0 = mean: RSS is
        # |yc + L|^2 - n mean(L)^2 for L = log(1 - x^k), by matrix products (no grid x n temporaries)
        lk = np.log1p(-xk)
        rss = ss + 2 * (lk @ yc) + np.einsum("ij,ij->i", lk, lk) - lk.sum(axis=1) ** 2 / n
        better = rss < best_rss
        best_rss[better], best_k[better] = rss[better], k
    i = int(np.argmin(best_rss))
    rss = np.maximum(best_rss, noise)
    lr = n * float(np.log(rss0 / rss[i]))
    if lr < gate:
        return None
    inside = np.flatnonzero(n * np.log(rss / rss[i]) <= level)
    if inside[-1] == grid - 1:
        return None  # not bounded above within max_ratio x the highest rate
    k = int(best_k[i])
    z = -np.log1p(-(x[i] ** k))
    log_w0 = float(np.mean(y - z))
    climbing = int(np.sum((y - log_w0 > np.log(climb)) & (z > np.log(climb))))
    if climbing < min_climbing:
        return None
    lower, upper = float(mus[inside[0] - 1]) if inside[0] > 0 else top, float(mus[inside[-1] + 1])
    return QueueFit(float(mus[i]), lower, upper, k, float(np.exp(log_w0)), n, climbing, lr)


def demand(rates: Array, in_flight: Array, started: Array | None, resolution_s: float) -> Array:
    """Arrivals per second at each point: `started` (calls started per second) where known, else
    `rates` (completions per second) plus the growth of `in_flight` (mean calls in flight per point)
    per second since the previous point (none at the first point or next to a missing one); never
    below 0. Missing rates stay missing."""
    if resolution_s <= 0:
        raise ValueError(f"resolution must be > 0 seconds, got {resolution_s}")
    r = np.asarray(rates, dtype=np.float64)
    f = np.asarray(in_flight, dtype=np.float64)
    if f.shape != r.shape or (started is not None and np.shape(started) != r.shape):
        raise ValueError(f"rates, in_flight and started differ in length: {r.shape}, {f.shape}, "
                         f"{None if started is None else np.shape(started)}")  # fmt: skip
    growth = np.nan_to_num(np.diff(f, prepend=np.nan), nan=0.0) / resolution_s
    out = np.maximum(r + growth, 0.0)
    if started is not None:
        s = np.asarray(started, dtype=np.float64)
        out = np.where(np.isfinite(s), s, out)
    return np.asarray(out, dtype=np.float64)


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
