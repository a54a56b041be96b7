"""Seasonal periods a series shows: the resolution's natural periods, and the strongest cycle of
the series itself whatever its length, checked by autocorrelation."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

MINUTE, HOUR, DAY, WEEK = 60.0, 3600.0, 86400.0, 604800.0


def natural_periods(resolution_s: float) -> tuple[int, ...]:
    """The clock's cycles in points at this resolution, shortest first: a minute and an hour for
    sub-minute series, then a day and a week (1 s → 60, 3600, 86400, 604800; 1 h → 24, 168)."""
    if resolution_s <= 0:
        raise ValueError(f"resolution must be > 0 seconds, got {resolution_s}")
    out = []
    for cycle in (MINUTE, HOUR, DAY, WEEK):
        points = cycle / resolution_s
        if points >= 2 and abs(points - round(points)) < 1e-9 and (cycle > HOUR or resolution_s < cycle / 30):
            out.append(round(points))
    return tuple(out)


def periods_for_season(m: int) -> tuple[int, ...]:
    """Candidates when only the seasonal period `m` is known: `m`, and a week too when `m` is a
    day at a sub-daily resolution (24 hourly, 48 half-hourly, 96, 288, 1440 …)."""
    if m < 2:
        return ()
    return (m, 7 * m) if DAY / m in (3600.0, 1800.0, 900.0, 600.0, 300.0, 60.0) else (m,)


def acf(y: Array, max_lag: int) -> Array:
    """The (biased) autocorrelation of `y` after removing its linear trend, lags 0..max_lag."""
    x = np.asarray(y, dtype=np.float64)
    n = len(x)
    t = np.arange(n, dtype=np.float64)
    slope, intercept = np.polyfit(t, x, 1) if n > 2 else (0.0, float(x.mean()))
    x = x - (slope * t + intercept)
    size = 1 << int(2 * n - 1).bit_length()
    spectrum = np.fft.rfft(x, size)
    r = np.fft.irfft(spectrum * np.conj(spectrum), size)[: max_lag + 1]
    return np.asarray(r / r[0], dtype=np.float64) if r[0] > 0 else np.zeros(max_lag + 1)


def find_periods(
    y: Array,
    candidates: tuple[int, ...] | None = None,
    min_acf: float = 0.2,
    min_cycles: float = 2.0,
    discover_acf: float = 0.3,
    discover_cycles: float = 3.0,
) -> tuple[int, ...]:
    """The seasonal periods `y` shows, shortest first.

    0. the strongest autocorrelation peak (`discovered`: at least `discover_acf`, with at least
       `discover_cycles` cycles in `y`) joins the candidates unless it is one of them give or take
       sampling noise (within 1/24): a cycle that is no clock period (a 120 s "day" at 1 s) is
       found too (`discover_acf` > 1: none). It counts as in 1., but not when it is (within 1/48)
       a multiple of a period found (two days over a day: the day again), and it is no base for
       2. (the clock's periods are checked against each other only);
    1. each candidate period `p` (at most `len(y) / min_cycles`) counts when the autocorrelation at
       lag `p` is at least `min_acf` and (within 0.02) a local maximum;
    2. a multiple of an accepted shorter period `q` (a week over a day) counts only when lag `p`
       correlates clearly better than lags `p - q` and `p + q` (otherwise it is the day again);
    3. without candidates, the strongest autocorrelation peak after the first zero crossing is the
       period (when at least `min_acf`, and only with 60 points or more).
    """
    n = len(y)
    if candidates is None:
        return _strongest_peak(y, min_acf, min_cycles)
    extra = discovered(y, discover_acf, discover_cycles) if discover_acf <= 1 else ()
    new = {p for p in extra if all(abs(p - c) > max(1, c // 24) for c in candidates)}  # not a candidate again
    usable = sorted({p for p in (*candidates, *new) if p >= 2 and n >= min_cycles * p})
    if not usable:
        return ()
    r = acf(y, min(n - 1, max(usable) + max(usable)))
    found: list[int] = []
    for p in usable:
        w = max(1, p // 48)  # a smooth cycle's peak is flat: sampling noise may move it a little
        if r[p] < min_acf or r[p] < float(r[p - w : p + w + 1].max()) - 0.02:
            continue
        if p in new:
            if any(abs(p - round(p / q) * q) <= w for q in found):
                continue
            found.append(p)
            continue
        base = [q for q in found if p % q == 0 and q not in new]
        if base:
            q = max(base)
            neighbours = [r[p - q]] + ([r[p + q]] if p + q < len(r) else [])
            if r[p] < max(neighbours) + 0.05:
                continue
        found.append(p)
    return tuple(found)


def discovered(y: Array, min_acf: float = 0.3, min_cycles: float = 3.0) -> tuple[int, ...]:
    """The lag of the strongest autocorrelation peak after the first zero crossing (a local maximum,
    not the edge of the lags searched), when at least `min_acf` with `min_cycles` cycles of it in `y`
    (60 points or more); () otherwise."""
    return _strongest_peak(y, min_acf, min_cycles)


def _strongest_peak(y: Array, min_acf: float, min_cycles: float) -> tuple[int, ...]:
    n = len(y)
    max_lag = int(n / min_cycles)
    if max_lag < 3 or n < 60:  # fewer points correlate by chance too easily
        return ()
    r = acf(y, min(n - 1, max_lag + 1))
    negative = np.flatnonzero(r[: max_lag + 1] < 0)
    if len(negative) == 0:
        return ()
    start = int(negative[0])
    if start >= max_lag:
        return ()
    lag = start + int(np.argmax(r[start : max_lag + 1]))
    peak = lag + 1 >= len(r) or r[lag] >= r[lag + 1]  # still rising at the last lag: the peak is beyond
    return (lag,) if peak and r[lag] >= min_acf and lag >= 2 else ()
