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


def _cpu(rng: np.random.Generator, rows: int, base: float) -> np.ndarray:
    """CPU-utilisation-like telemetry: a diurnal load, AR(1) noise, and short bursts that are normal here.

    Real host metrics (NAB's ec2_cpu files) are bounded, autocorrelated, and spiky even when nothing is
    wrong: about 1% of rows carry a burst of 1-3 rows (a cron job, a GC pause) of +10 to +40 points.
    """
    t = np.arange(rows)
    e = rng.normal(0, 1.5, rows)
    noise = np.empty(rows)
    acc = 0.0
    for i in range(rows):  # AR(1), phi 0.8
        acc = 0.8 * acc + e[i]
        noise[i] = acc
    x = base * (1 + 0.3 * np.sin(2 * np.pi * (t / DAY - 0.3))) + noise
    for s in np.flatnonzero(rng.random(rows) < 0.01):
        x[s : s + int(rng.integers(1, 4))] += rng.uniform(10, 40)
    return np.clip(x, 0.0, 100.0)


def _latency(rng: np.random.Generator, rows: int, median: float) -> np.ndarray:
    """A p99-like latency: lognormal around a median that follows the load a little, heavy right tail."""
    t = np.arange(rows)
    load = 1 + 0.15 * np.sin(2 * np.pi * (t / DAY - 0.3))
    return median * load * rng.lognormal(0.0, 0.25, rows)


def service_corpus(seed: int = 0, rows: int = 4032) -> list[Labelled]:
    """Series shaped like host and service telemetry (bounded, autocorrelated, bursty, heavy-tailed).

    Two quiet ones (bursts and tails that are normal) and four incidents: a CPU saturation, a traffic
    drop after a deploy, a latency that turns erratic (its spread grows, its median does not move),
    and a disk that fills steadily and then jumps. Each incident starts at a seeded random row between
    18% and 85% of the file (NAB's anomalies are anywhere after the probation, not only late), and its
    size is drawn from obvious to subtle (NAB's labelled anomalies range that widely).
    """
    rng = np.random.default_rng([seed, 1])
    out = [
        Labelled("quiet_cpu", _cpu(rng, rows, 30), []),
        Labelled("quiet_latency", _latency(rng, rows, 120), []),
    ]

    def start() -> int:  # anywhere after NAB's probation (15%) with room for the incident to play out
        return int(rng.integers(int(0.18 * rows), int(0.85 * rows)))

    s = start()
    x = _cpu(rng, rows, 25)
    level = rng.uniform(60, 95)  # a runaway process pins the CPU, from clearly to barely above the bursts
    x[s : s + 100] = np.clip(level + rng.normal(0, 2, len(x[s : s + 100])), 0, 100)
    out.append(Labelled("cpu_saturation", x, _windows([s], rows)))
    s = start()
    x = _traffic(rng, rows, 60)
    kept = rng.uniform(0.6, 0.85)  # a deploy loses 15-40% of the calls
    x[s:] = rng.poisson(kept * _traffic(rng, rows, 60)[s:] + 0.01)
    out.append(Labelled("traffic_drop", x, _windows([s], rows)))
    s = start()
    x = _latency(rng, rows, 120)
    x[s:] = 120 * rng.lognormal(0.0, 0.25 * rng.uniform(2, 3), rows - s)  # same median, 2-3x the spread
    out.append(Labelled("latency_erratic", x, _windows([s], rows)))
    s = start()
    disk = 40 + np.cumsum(rng.gamma(0.5, 0.01, rows)) + rng.normal(0, 0.2, rows)
    disk[s:] += rng.uniform(1, 12)  # a dump lands on the disk (from 5 to 60 noise sd)
    out.append(Labelled("disk_jump", disk, _windows([s], rows)))
    return out


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
