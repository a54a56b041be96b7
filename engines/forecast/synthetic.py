"""Synthetic service-traffic series with known structure (seeded): daily and weekly cycles,
ramps, level shifts, outliers and noise, for tests and benchmarks."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


def traffic(
    n: int,
    rng: np.random.Generator,
    day: int = 24,
    week: int | None = 168,
    base: float = 100.0,
    daily_amp: float = 0.5,
    weekend_drop: float = 0.3,
    trend_per_day: float = 0.0,
    noise: float = 0.05,
    shift_at: int | None = None,
    shift: float = 0.0,
    outliers: int = 0,
    multiplicative: bool = True,
) -> Array:
    """Requests per interval: a level (with a linear ramp and an optional level shift) times a
    diurnal curve (peak in the afternoon) and a weekend dip, plus noise and spikes."""
    t = np.arange(n, dtype=np.float64)
    phase = 2 * np.pi * (t % day) / day
    diurnal = 1 + daily_amp * (0.7 * np.sin(phase - np.pi / 2) + 0.3 * np.sin(2 * phase))
    weekly = np.ones(n)
    if week:
        weekly = np.where((t % week) >= week * 5 / 7, 1 - weekend_drop, 1.0)
    level = base * (1 + trend_per_day * t / day)
    if shift_at is not None:
        level = level + np.where(t >= shift_at, shift * base, 0.0)
    if multiplicative:
        y = level * diurnal * weekly * (1 + noise * rng.standard_normal(n))
    else:
        y = level + base * (diurnal - 1 + weekly - 1) + noise * base * rng.standard_normal(n)
    if outliers:
        at = rng.choice(n, size=outliers, replace=False)
        y[at] *= rng.choice([0.1, 4.0], size=outliers)
    return np.asarray(np.maximum(y, 0.0), dtype=np.float64)


def panel(count: int, n: int, seed: int = 0, day: int = 24) -> dict[str, Array]:
    """`count` varied traffic series of length `n` (levels, amplitudes, ramps, shifts, outliers)."""
    rng = np.random.default_rng(seed)
    out = {}
    for i in range(count):
        out[f"S{i + 1}"] = traffic(
            n,
            rng,
            day=day,
            week=7 * day if rng.random() < 0.7 else None,
            base=float(rng.uniform(20, 2000)),
            daily_amp=float(rng.uniform(0.1, 0.8)),
            weekend_drop=float(rng.uniform(0.0, 0.5)),
            trend_per_day=float(rng.choice([0.0, 0.0, rng.uniform(-0.01, 0.02)])),
            noise=float(rng.uniform(0.02, 0.2)),
            shift_at=int(rng.integers(n // 2, n)) if rng.random() < 0.2 else None,
            shift=float(rng.uniform(-0.4, 0.6)),
            outliers=int(rng.integers(0, 4)),
            multiplicative=bool(rng.random() < 0.7),
        )
    return out
