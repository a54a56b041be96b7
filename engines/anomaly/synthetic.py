"""Seeded synthetic service series with labelled incidents, NAB-style, to check the detector's rules."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DAY = 288  # rows per day at 5-minute sampling


@dataclass(frozen=True)
class Labelled:
    """A synthetic file: values, the anomaly start rows, and NAB-style windows (inclusive rows)."""

    name: str
    values: np.ndarray
    windows: list[tuple[int, int]]


def _traffic(rng: np.random.Generator, rows: int, base: float) -> np.ndarray:
    """Diurnal and weekly call-rate shape with Poisson noise."""
    t = np.arange(rows)
    day = 1 + 0.6 * np.sin(2 * np.pi * (t / DAY - 0.3))
    week = 1 - 0.25 * (((t // DAY) % 7) >= 5)
    return rng.poisson(base * day * week).astype(float)


def _windows(starts: list[int], rows: int) -> list[tuple[int, int]]:
    """NAB's rule: 10% of the file split over the anomalies, each window centred on its anomaly."""
    if not starts:
        return []
    width = max(2, int(0.1 * rows / len(starts)))
    return [(max(0, s - width // 2), min(rows - 1, s + width // 2)) for s in starts]


def corpus(seed: int = 0, rows: int = 4032) -> list[Labelled]:
    """Quiet series and series with one or two incidents of several kinds."""
    rng = np.random.default_rng(seed)
    out: list[Labelled] = []
    for k in range(3):
        out.append(Labelled(f"quiet_traffic_{k}", _traffic(rng, rows, 40 + 30 * k), []))
    noise = 50 + rng.normal(0, 3, rows)
    out.append(Labelled("quiet_noise", noise, []))
    x = _traffic(rng, rows, 60)
    x[3000:] *= 1.8
    out.append(Labelled("level_shift_up", x, _windows([3000], rows)))
    x = _traffic(rng, rows, 60)
    x[2500:2530] *= 4
    out.append(Labelled("traffic_spike", x, _windows([2500], rows)))
    x = _traffic(rng, rows, 60)
    x[2200:2290] = 0
    x[3400:3440] = rng.poisson(5, 40)
    out.append(Labelled("outages", x, _windows([2200, 3400], rows)))
    x = _traffic(rng, rows, 80)
    x[2880 : 2880 + DAY // 2] = np.median(x)  # the daily swing goes flat for half a day
    out.append(Labelled("flat_half_day", x, _windows([2880], rows)))
    lat = 20 + rng.gamma(2.0, 2.0, rows)
    lat[3100:] += np.linspace(0, 60, rows - 3100)  # latency degrades steadily
    out.append(Labelled("latency_ramp", lat, _windows([3100], rows)))
    err = rng.binomial(200, 0.01, rows).astype(float)
    err[2700:2760] = rng.binomial(200, 0.08, 60)
    out.append(Labelled("error_burst", err, _windows([2700], rows)))
    return out
