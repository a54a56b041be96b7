"""M4's accuracy measures (sMAPE, MASE) and the two baselines they are compared against."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


def naive(y: Array, h: int) -> Array:
    """Repeat the last value `h` times."""
    return np.full(h, float(y[-1]))


def seasonal_naive(y: Array, h: int, m: int) -> Array:
    """Repeat the last season of length `m` (naive when the series is shorter than `m`)."""
    if m < 1 or len(y) < m:
        return naive(y, h)
    last = y[len(y) - m :]
    return np.asarray(last[np.arange(h) % m], dtype=np.float64)


def smape(actual: Array, forecast: Array) -> float:
    """M4's sMAPE in percent: mean of 200·|A-F| / (|A|+|F|) (a 0/0 step counts as 0)."""
    a, f = np.asarray(actual, dtype=np.float64), np.asarray(forecast, dtype=np.float64)
    denominator = np.abs(a) + np.abs(f)
    ratio = np.divide(2.0 * np.abs(a - f), denominator, out=np.zeros_like(a), where=denominator > 0)
    return float(100.0 * ratio.mean())


def mase_scale(insample: Array, m: int) -> float:
    """M4's MASE denominator: the mean absolute in-sample error of seasonal naive with period `m`
    (period 1 when the series is not longer than `m`)."""
    y = np.asarray(insample, dtype=np.float64)
    lag = m if len(y) > m else 1
    if len(y) <= lag:
        raise ValueError(f"MASE needs more than {lag} in-sample values, got {len(y)}")
    return float(np.mean(np.abs(y[lag:] - y[:-lag])))


def mase(insample: Array, actual: Array, forecast: Array, m: int) -> float:
    """M4's MASE: mean |A-F| over the horizon divided by `mase_scale(insample, m)` (inf when the
    in-sample seasonal-naive error is 0 and the forecast is not exact)."""
    error = float(np.mean(np.abs(np.asarray(actual, dtype=np.float64) - np.asarray(forecast, dtype=np.float64))))
    scale = mase_scale(insample, m)
    if scale == 0.0:
        return 0.0 if error == 0.0 else float("inf")
    return error / scale
