"""What the engine predicts for one service, from its series (pure: arrays and `now` in, reasons out).

- `spike`: the rate (the engine passes the demand: calls arriving) will exceed k x its baseline
  (the median of the recent history) within the horizon — the earliest crossing of the
  SeriesForecaster forecast or the fast Holt forecast;
- `shortage`: forecast demand reaches the capacity the telemetry reveals: the lowest of the
  queueing curve fitted to (rate, p99) pairs (capacity.queue_fit), the knee of those pairs or the
  rejections (capacity.knee), and Little's law on a concurrency limit and the latency; demand is
  what arrives (capacity.demand), not what completes, which a saturated service caps;
- `degradation`: the p99 or the error-rate trend reaches the SLO within the horizon;
- `profile`: the daily / weekly shape and the peak hours of a rate series.
Each prediction carries a lead time (seconds), the evidence as text and numbers, a priority and a
correlation id that stays the same while one episode lasts (its kind, key and start second).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from engines.forecast import capacity

Array = NDArray[np.float64]
SPIKE, SHORTAGE, DEGRADATION = "traffic_spike", "shortage", "degradation"


@dataclass(frozen=True, slots=True)
class Rules:
    """Thresholds of the predictions (all configurable from `apex forecaster`)."""

    spike_k: float = 2.0  # a spike is rate > spike_k x baseline
    min_rate: float = 1.0  # calls/s below which no spike or shortage is predicted
    slo_p99: float = 0.5  # seconds
    slo_error_rate: float = 0.05
    knee_factor: float = 1.5
    min_points: int = 20  # points of history before predicting anything

    def __post_init__(self) -> None:
        if self.spike_k <= 1 or self.slo_p99 <= 0 or not 0 < self.slo_error_rate <= 1 or self.knee_factor <= 1:
            raise ValueError("spike_k > 1, slo_p99 > 0, 0 < slo_error_rate <= 1 and knee_factor > 1 are required")


@dataclass(frozen=True, slots=True)
class Prediction:
    kind: str
    key: str  # series key: a service, or service/listener:route
    now: float
    lead_s: float  # seconds until it happens (0: now)
    priority: str  # LOW / MEDIUM / HIGH / CRITICAL (telemetry_pb2.Priority names)
    message: str
    evidence: dict[str, float] = field(default_factory=dict)

    @property
    def at(self) -> float:
        return self.now + self.lead_s


def _priority(lead_s: float, horizon_s: float) -> str:
    if lead_s <= 0:
        return "CRITICAL"
    return "HIGH" if lead_s < horizon_s / 3 else "MEDIUM"


def _fmt_lead(lead_s: float) -> str:
    if lead_s <= 0:
        return "now"
    return f"in ~{lead_s / 60:.0f} min" if lead_s >= 120 else f"in ~{lead_s:.0f} s"


def spike(
    key: str, history: Array, forecast: Array, fast: Array, resolution_s: float, now: float, rules: Rules
) -> Prediction | None:
    """A spike when a forecast (seasonal `forecast` or the Holt `fast` one) crosses k x the baseline."""
    h = np.asarray(history, dtype=np.float64)
    h = h[np.isfinite(h)]
    if h.size < rules.min_points:
        return None
    baseline = float(np.median(h))
    level = max(rules.spike_k * baseline, rules.min_rate)
    leads = [x for x in (capacity.crossing(f, level, resolution_s) for f in (forecast, fast)) if x is not None]
    if not leads:
        return None
    lead = min(leads)
    peak = float(max(np.max(forecast) if len(forecast) else 0.0, np.max(fast) if len(fast) else 0.0))
    horizon = resolution_s * max(len(forecast), len(fast))
    msg = (f"{key}: rate will exceed {rules.spike_k:g}x its baseline ({baseline:.1f} -> >{level:.1f} calls/s) "
           f"{_fmt_lead(lead)}; forecast peak {peak:.1f} calls/s")  # fmt: skip
    evidence = {"baseline": baseline, "threshold": level, "peak": peak, "current": float(h[-1])}
    return Prediction(SPIKE, key, now, lead, _priority(lead, horizon), msg, evidence)


def shortage(
    key: str,
    rates: Array,
    p99s: Array,
    rejections: Array,
    forecast: Array,
    resolution_s: float,
    now: float,
    rules: Rules,
    little: float | None = None,
    demand: Array | None = None,
) -> Prediction | None:
    """Forecast demand reaching the revealed capacity: the lowest of the queueing-curve fit, the knee
    and Little's law (the message says which, the evidence has each one found and the fit's interval).

    `rates` are completion rates (the capacity models' load axis); `demand` the arrival rates
    (default: `rates`), whose last three points are the current demand; `forecast` forecasts demand."""
    r = np.asarray(rates, dtype=np.float64)
    if r.size < rules.min_points:
        return None
    fit = capacity.queue_fit(r, p99s, min_points=rules.min_points)
    k = capacity.knee(r, p99s, rejections, factor=rules.knee_factor)
    found: list[tuple[float, str, str]] = []  # (calls/s, which, how)
    if fit is not None:
        found.append((fit.capacity, "fit", fit.evidence()))
    if k is not None:
        found.append((k.rate, "knee", k.evidence()))
    if little is not None:
        found.append((little, "little", f"Little's law: concurrency limit / latency = {little:.0f} calls/s"))
    if not found:
        return None
    cap, which, how = min(found)
    if cap < rules.min_rate:
        return None
    d = r if demand is None else np.asarray(demand, dtype=np.float64)
    current = float(np.nanmean(d[-3:]))
    lead = capacity.crossing(forecast, cap, resolution_s, current)
    if lead is None:
        return None
    msg = f"{key} reaches its capacity (~{cap:.0f} calls/s) {_fmt_lead(lead)}: {how}"
    peak = float(np.max(forecast)) if len(forecast) else current
    evidence = {"capacity": cap, "current": current, "peak_forecast": peak}
    evidence.update({f"{name}_capacity": c for c, name, _ in found})
    if which == "fit" and fit is not None:
        evidence.update(capacity_lower=fit.lower, capacity_upper=fit.upper, fit_k=float(fit.k),
                        baseline_p99=fit.baseline)  # fmt: skip
    elif k is not None:
        evidence.update(baseline_p99=k.baseline_p99, p99_at_knee=k.p99_at_knee)
    return Prediction(SHORTAGE, key, now, lead, _priority(lead, resolution_s * len(forecast)), msg, evidence)


def degradation(
    key: str, times: Array, p99s: Array, errors: Array, horizon_s: float, now: float, rules: Rules
) -> Prediction | None:
    """The p99 (or error rate) trend reaching the SLO within `horizon_s` (0: it already has)."""
    found = []
    for name, values, slo in (("p99", p99s, rules.slo_p99), ("error_rate", errors, rules.slo_error_rate)):
        lead = capacity.trend_crossing(times, values, slo, horizon_s, min_points=max(5, rules.min_points // 2))
        if lead is not None:
            v = np.asarray(values, dtype=np.float64)
            last = float(v[np.isfinite(v)][-1])
            found.append((lead, name, slo, last))
    if not found:
        return None
    lead, name, slo, last = min(found)
    msg = f"{key}: {name} heading for its SLO ({_unit(name, last)} now, SLO {_unit(name, slo)}) {_fmt_lead(lead)}"
    return Prediction(DEGRADATION, key, now, lead, _priority(lead, horizon_s), msg, {name: last, "slo": slo})


def _unit(name: str, x: float) -> str:
    return f"{x * 1e3:.0f} ms" if name == "p99" else f"{x:.1%}"


@dataclass(frozen=True, slots=True)
class Profile:
    hourly: list[float]  # mean rate per hour of day (UTC), NaN without data
    weekly: list[float]  # mean rate per day of week (Monday first)
    peak_hours: list[int]  # the three busiest hours of day
    points: int


def profile(times: NDArray[np.int64], rates: Array) -> Profile:
    """The daily and weekly shape of a rate series (timestamps in seconds, UTC)."""
    t = np.asarray(times, dtype=np.int64)
    v = np.asarray(rates, dtype=np.float64)
    ok = np.isfinite(v)
    t, v = t[ok], v[ok]
    hour = (t // 3600) % 24
    day = ((t // 86400) + 3) % 7  # 1970-01-01 was a Thursday
    hourly = [float(v[hour == h].mean()) if (hour == h).any() else float("nan") for h in range(24)]
    weekly = [float(v[day == d].mean()) if (day == d).any() else float("nan") for d in range(7)]
    filled = np.nan_to_num(np.array(hourly), nan=-np.inf)
    peaks = [int(h) for h in np.argsort(-filled, kind="stable")[:3] if np.isfinite(filled[h])]
    return Profile(hourly, weekly, peaks, int(v.size))
