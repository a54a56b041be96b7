"""Holt's linear exponential smoothing with a residual-variance tracker, as pure functions.

filterpy-style: a frozen state and functions `update(state, x) -> state`, `forecast(state, h)`.
The level/trend pair predicts where a series is heading (a ramp becomes a trend before it
becomes a spike); the exponentially weighted variance of one-step errors turns each new point
into an anomaly score (a z-score against what the model expected).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class Holt:
    level: float
    trend: float
    variance: float  # EW variance of one-step-ahead errors
    n: int  # points seen


@dataclass(frozen=True, slots=True)
class Params:
    alpha: float = 0.3  # level smoothing
    beta: float = 0.1  # trend smoothing
    gamma: float = 0.1  # error-variance smoothing
    phi: float = 0.98  # trend damping per step (1 = undamped)

    def __post_init__(self) -> None:
        for name in ("alpha", "beta", "gamma", "phi"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {value}")


DEFAULT = Params()


def start(x: float) -> Holt:
    return Holt(level=float(x), trend=0.0, variance=0.0, n=1)


def update(state: Holt | None, x: float, p: Params = DEFAULT) -> Holt:
    """Fold observation `x` into the state (step 1: error vs the one-step forecast; step 2:
    level and damped trend; step 3: error variance)."""
    if state is None:
        return start(x)
    expected = state.level + p.phi * state.trend
    error = x - expected
    level = expected + p.alpha * error
    trend = p.phi * state.trend + p.beta * (level - state.level - p.phi * state.trend)
    variance = (1 - p.gamma) * state.variance + p.gamma * error * error if state.n > 1 else error * error
    return Holt(level=level, trend=trend, variance=variance, n=state.n + 1)


def forecast(state: Holt, h: int, p: Params = DEFAULT) -> float:
    """The value expected `h` steps ahead (damped trend: level + (phi + … + phi^h)·trend)."""
    if h <= 0:
        return state.level
    damp = h if p.phi == 1.0 else p.phi * (1 - p.phi**h) / (1 - p.phi)
    return state.level + damp * state.trend


def anomaly_score(state: Holt, x: float, p: Params = DEFAULT) -> float:
    """How many standard deviations `x` lies from the one-step forecast (0 until calibrated)."""
    if state.n < 3 or state.variance <= 0:
        return 0.0
    return (x - forecast(state, 1, p)) / math.sqrt(state.variance)


def fit(series: Iterable[float], p: Params = DEFAULT) -> Holt:
    state: Holt | None = None
    for x in series:
        state = update(state, float(x), p)
    if state is None:
        raise ValueError("cannot fit an empty series")
    return state


def one_step_errors(series: NDArray[np.float64], p: Params = DEFAULT) -> NDArray[np.float64]:
    """Errors of the one-step-ahead forecasts over a series (first point has none: NaN)."""
    errors = np.full(series.shape, np.nan)
    state: Holt | None = None
    for i, x in enumerate(series):
        if state is not None:
            errors[i] = x - forecast(state, 1, p)
        state = update(state, float(x), p)
    return errors
