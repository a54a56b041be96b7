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


def seasonal_residual(x: FloatArray, period: int, cycles: int) -> FloatArray:
    """|x_i - median(x_{i-P}, ..., x_{i-cP})|: how far a row is from the same phase of past cycles."""
    n = len(x)
    out = np.zeros(n)
    if period <= 0 or n <= period:
        return out
    stack = []
    for c in range(1, cycles + 1):
        lagged = np.full(n, np.nan)
        if n > c * period:
            lagged[c * period :] = x[: n - c * period]
        stack.append(lagged)
    # From row `period` on, at least one lag exists, so no column is all-NaN.
    ref = np.nanmedian(np.vstack(stack)[:, period:], axis=0)
    out[period:] = np.abs(x[period:] - ref)
    return out
