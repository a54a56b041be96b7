"""Causal features of a series: each value at row i uses rows <= i only; bigger means more anomalous."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

FloatArray = np.ndarray


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


def lagged_mean(x: FloatArray, window: int) -> FloatArray:
    """mean(x[i-window : i]) per row (the rows strictly before i); row 0 uses itself."""
    c = np.concatenate(([0.0], np.cumsum(x)))
    idx = np.arange(len(x))
    lo = np.maximum(idx - window, 0)
    out = np.empty(len(x))
    out[1:] = (c[idx[1:]] - c[lo[1:]]) / (idx[1:] - lo[1:])
    if len(x):
        out[0] = x[0]
    return out


def trailing_mean(x: FloatArray, window: int) -> FloatArray:
    """mean(x[i-window+1 : i+1]) per row (including row i); the first rows use what there is."""
    c = np.concatenate(([0.0], np.cumsum(x)))
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(idx - window, 0)
    return (c[idx] - c[lo]) / (idx - lo)


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
