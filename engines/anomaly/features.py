"""Causal features of a series: each value at row i uses rows <= i only; bigger means more anomalous."""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

FloatArray = np.ndarray

RESYNC = 1024  # rows between exact restarts of a running window sum


def lagged_median(x: FloatArray, window: int) -> FloatArray:
    """median(x[i-window : i]) per row (the rows strictly before i); the first rows use what there is."""
    n = len(x)
    out = np.empty(n)
    if n == 0:
        return out
    out[0] = x[0]
    head = min(window, n)
    for i in range(1, head):  # the first `window` rows: too few for a full window
        out[i] = np.median(x[:i])
    if n > window:
        out[window:] = np.median(sliding_window_view(x[:-1], window), axis=1)
    return out


def window_sums(x: FloatArray, window: int, resync: int = RESYNC) -> FloatArray:
    """sum(x[i-window+1 : i+1]) per row (the first rows sum what there is), as a running sum.

    Row i adds (x_i - x_{i-window}) to row i-1's sum, left to right (np.cumsum is sequential), so a
    streaming sum that does the same additions gets the same floats (engines.anomaly.online). Every
    `resync` rows (at rows 0, resync, 2·resync, ... counted from the first) the sum restarts from the
    exact sum of its window (math.fsum), so rounding never accumulates over more than `resync` rows.
    """
    n = len(x)
    out = np.empty(n)
    d = np.array(x, dtype=float)
    if n > window:
        d[window:] -= x[:-window]
    for r in range(0, n, resync):
        end = min(n, r + resync)
        seed = math.fsum(x[max(0, r - window + 1) : r + 1].tolist())
        out[r:end] = np.cumsum(np.concatenate(([seed], d[r + 1 : end])))
    return out


def lagged_mean(x: FloatArray, window: int) -> FloatArray:
    """mean(x[i-window : i]) per row (the rows strictly before i); row 0 uses itself."""
    n = len(x)
    out = np.empty(n)
    if n == 0:
        return out
    out[0] = x[0]
    idx = np.arange(1, n)
    out[1:] = window_sums(x, window)[:-1] / np.minimum(idx, window)
    return out


def trailing_mean(x: FloatArray, window: int) -> FloatArray:
    """mean(x[i-window+1 : i+1]) per row (including row i); the first rows use what there is."""
    return window_sums(x, window) / np.minimum(np.arange(1, len(x) + 1), window)


def seasonal_envelope_residual(x: FloatArray, period: int, cycles: int, reach: int) -> FloatArray:
    """How far x_i lies outside the range of past cycles near the same phase (within ±reach rows).

    Per past cycle c: the distance from x_i to [min, max] of x[i-cP-reach : i-cP+reach+1] (0 inside); the
    median over the cycles available. A pattern that recurs daily with some jitter stays at 0; a swing that
    goes missing or a new excursion does not. NaN during the first cycle.
    """
    n = len(x)
    out = np.full(n, np.nan)
    if period <= reach or n <= period:
        return out
    # lo_all[j], hi_all[j]: min and max of x[j-reach : j+reach+1]; only j < n - period <= n - reach - 1 is used,
    # so the right end never runs past the data; the left end is clipped at row 0.
    lo_all = np.empty(n)
    hi_all = np.empty(n)
    if n > 2 * reach:
        win = sliding_window_view(x, 2 * reach + 1)
        lo_all[reach : n - reach] = win.min(axis=1)
        hi_all[reach : n - reach] = win.max(axis=1)
    for j in range(min(reach, n)):
        lo_all[j] = x[: j + reach + 1].min()
        hi_all[j] = x[: j + reach + 1].max()
    rows = []
    for c in range(1, cycles + 1):
        lag = c * period
        d = np.full(n, np.nan)
        if n > lag:
            lo = lo_all[: n - lag]
            hi = hi_all[: n - lag]
            # period > reach: the neighbourhood of row i - lag ends before row i
            d[lag:] = np.maximum(0.0, np.maximum(x[lag:] - hi, lo - x[lag:]))
        rows.append(d)
    stack = np.vstack(rows)[:, period:]
    out[period:] = np.nanmedian(stack, axis=0)
    return out
