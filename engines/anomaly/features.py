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


def centred_windows(x: FloatArray, window: int) -> FloatArray:
    """Row j: x[j : j+window] minus its own mean (the mean summed left to right, as the streaming detector does)."""
    n = len(x)
    if n < window:
        return np.empty((0, window))
    total = np.zeros(n - window + 1)
    for k in range(window):
        total = total + x[k : k + n - window + 1]
    out: FloatArray = sliding_window_view(x, window) - (total / window)[:, None]
    return out


def novelty_distance(x: FloatArray, window: int, horizon: int, chunk_cells: int = 1 << 15) -> FloatArray:
    """How unlike anything in the recent past the last `window` rows are, per row: shape novelty.

    The subsequence ending at row i, minus its own mean, against every earlier subsequence (each minus its
    own mean) starting `window` to `horizon` rows before it (so they do not overlap it): the Euclidean
    distance to the nearest one. A daily shape that recurs finds a close match; a shape never seen in the
    last `horizon` rows (a swing that goes flat, an oscillation that changes, a step inside the window)
    does not. The level is left to the other features. NaN until a first candidate exists (row 2·window-1).
    The sums of squares run over k = 0..window-1 in that order, so a streaming version doing the same
    float operations per candidate gets the same values (engines.anomaly.online).
    """
    n = len(x)
    w = window
    out = np.full(n, np.nan)
    if w < 1 or horizon < w or n < 2 * w:
        return out
    z = centred_windows(x, w)  # z[j]: the subsequence starting at row j (ending at j + w - 1)
    starts = len(z)
    width = horizon - w + 1  # candidate starts j - horizon .. j - w
    cols = [np.concatenate((np.full(horizon, np.inf), z[:, k])) for k in range(w)]
    lagged = [sliding_window_view(c, width) for c in cols]  # lagged[k][j, t] = z[j - horizon + t, k]
    step = max(1, chunk_cells // width)
    for j0 in range(w, starts, step):
        j1 = min(starts, j0 + step)
        acc = np.zeros((j1 - j0, width))
        d = np.empty_like(acc)
        for k in range(w):
            np.subtract(z[j0:j1, k][:, None], lagged[k][j0:j1], out=d)
            np.multiply(d, d, out=d)
            acc += d
        best = acc.min(axis=1)
        out[j0 + w - 1 : j1 + w - 1] = np.sqrt(best)
    return out
