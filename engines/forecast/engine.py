"""The forecasting engine's decisions without I/O: series in, predictions, anomalies and documents out.

`Engine.observe(closed)` folds closed seconds (engines.ingest.samples) into each key's rings
(engines.forecast.ring) and feeds every new service row at the forecast resolution to the fast Holt
model (its demand: capacity.demand, the calls arriving per second) and to the series' anomaly
detector (rate, p99 and error rate; anything with `update(value, now) -> (score, alarm)`, see `Detector`; by
default engines.anomaly's). `Engine.evaluate(service, now)` forecasts the service's demand with
SeriesForecaster and returns the predictions (engines.forecast.predict) with the documents
`apex forecast show` reads.
Everything is bounded: rings, the keys kept (`max_keys`), the recent anomalies.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from engines.anomaly.detector import DEFAULT
from engines.anomaly.online import OnlineDetector
from engines.forecast import capacity, model, predict
from engines.forecast.ring import CAPACITY, COL, RESOLUTIONS, MultiRes
from engines.forecast.service import SeriesForecaster
from engines.ingest.samples import CLUSTER_SEP, ROUTE_SEP, Closed, service_of


class Detector(Protocol):
    """An online anomaly detector for one series: a score in [0, 1] and an alarm per point."""

    def update(self, value: float, now: float) -> tuple[float, bool]: ...


class HoltDetector:
    """The fallback detector: |z| of the one-step Holt error, squashed to [0, 1]; alarm at z >= 4,
    then quiet for `quiet` points (one incident, one alarm)."""

    def __init__(self, z: float = 4.0, quiet: int = 30) -> None:
        self.state: model.Holt | None = None
        self.z, self.quiet, self._left = z, quiet, 0

    def update(self, value: float, now: float) -> tuple[float, bool]:
        score_z = abs(model.anomaly_score(self.state, value)) if self.state is not None else 0.0
        self.state = model.update(self.state, value)
        self._left = max(0, self._left - 1)
        alarm = score_z >= self.z and self._left == 0
        if alarm:
            self._left = self.quiet
        return float(1 - np.exp(-score_z / self.z)), alarm


class AnomalyDetector:
    """The online detector of engines.anomaly (self-calibrating, suppressed so one incident raises one
    alarm) behind the per-point protocol: engines.anomaly.online, O(1) amortised per point (~10 µs;
    ~0.6 MB per series). `period`: the daily period in points (0: none)."""

    def __init__(self, period: int = 0) -> None:
        self.inner = OnlineDetector(replace(DEFAULT, period=period))

    def update(self, value: float, now: float) -> tuple[float, bool]:
        if not np.isfinite(value):
            return 0.0, False  # a missing value is no evidence (the detector accepts finite values only)
        score, _, alarm = self.inner.push(value)
        return score, alarm


def daily_period(resolution_s: int) -> int:
    """Points per day at `resolution_s` for the detector's seasonal feature: 0 (none) when sampled more
    coarsely than hourly, as rows_per_day says, and below one minute, where a day is too many points to
    keep three days of per-point envelopes (86,400 a day at 1 s)."""
    return round(86400 / resolution_s) if 60 <= resolution_s <= 3600 else 0


@dataclass(frozen=True, slots=True)
class EngineConfig:
    resolution_s: int = 60  # the series forecasts use: one of `resolutions`
    history: int = 240  # points of it the forecasts see
    horizon: int = 30  # points ahead
    fast_horizon: int = 10  # points ahead for the Holt complement
    reselect_every: float = 600.0
    resolutions: tuple[int, ...] = RESOLUTIONS
    capacity: tuple[tuple[int, int], ...] = tuple(CAPACITY.items())
    rules: predict.Rules = field(default_factory=predict.Rules)
    max_keys: int = 5000
    recent_anomalies: int = 50

    def __post_init__(self) -> None:
        if self.resolution_s not in self.resolutions:
            raise ValueError(f"resolution_s {self.resolution_s} is not one of the resolutions {self.resolutions}")
        if self.history < 2 or self.horizon < 1 or self.fast_horizon < 1:
            raise ValueError("history >= 2, horizon >= 1 and fast_horizon >= 1 are required")
        kept = dict(self.capacity).get(self.resolution_s, 0)
        if self.history > kept:
            raise ValueError(f"history {self.history} is more than the {kept} points kept at {self.resolution_s} s "
                             "resolution")  # fmt: skip
        if self.reselect_every < 0:
            raise ValueError(f"reselect_every must be >= 0 seconds, got {self.reselect_every:g}")


@dataclass
class Evaluation:
    predictions: list[predict.Prediction]
    forecast: dict[str, Any]
    profile: dict[str, Any]


class Engine:
    def __init__(self, config: EngineConfig | None = None, detector: Callable[[], Detector] | None = None) -> None:
        self.config = c = config or EngineConfig()
        if detector is None:  # engines.anomaly's, seasonal at the forecast resolution
            period = daily_period(c.resolution_s)
            detector = lambda: AnomalyDetector(period)  # noqa: E731
        self.series: dict[str, MultiRes] = {}
        self.forecaster = SeriesForecaster(c.horizon, float(c.resolution_s), reselect_every=c.reselect_every)
        self.holt: dict[str, model.Holt] = {}
        self.detectors: dict[tuple[str, str], Detector] = {}
        self.make_detector = detector
        self.anomalies: dict[str, deque[dict[str, Any]]] = {}  # service -> recent alarms
        self.concurrency: dict[str, float] = {}  # service -> total concurrency limit, when known
        self.dropped_keys = 0

    def restore(self, key: str, data: bytes) -> None:
        self.series[key] = MultiRes.from_bytes(data)

    def _ring(self, key: str) -> MultiRes | None:
        m = self.series.get(key)
        if m is None:
            if len(self.series) >= self.config.max_keys:
                self.dropped_keys += 1
                return None
            m = self.series[key] = MultiRes(self.config.resolutions, dict(self.config.capacity))
        return m

    def observe(self, closed: Iterable[Closed]) -> None:
        res = self.config.resolution_s
        for c in closed:
            m = self._ring(c.key)
            if m is None:
                continue
            for r, t, row in m.add(c.second, c.sample):
                if r != res:
                    continue
                if ROUTE_SEP in c.key or CLUSTER_SEP in c.key:
                    continue  # routes and clusters are kept and shown; services are forecast and watched
                ring = m.rings[r]
                last = ring.values[ring.order()[-2:]]  # the row before (demand's in-flight growth) and this one
                demand = capacity.demand(last[:, COL["rate"]], last[:, COL["in_flight"]], last[:, COL["started"]], r)
                self.holt[c.key] = model.update(self.holt.get(c.key), float(demand[-1]))
                self._detect(c.key, "rate", float(row[COL["rate"]]), float(t + r))
                for metric in ("p99", "error_rate"):  # NaN in a second without calls: no evidence
                    if np.isfinite(row[COL[metric]]):
                        self._detect(c.key, metric, float(row[COL[metric]]), float(t + r))

    def _detect(self, key: str, metric: str, value: float, now: float) -> None:
        d = self.detectors.get((key, metric))
        if d is None:
            d = self.detectors[(key, metric)] = self.make_detector()
        score, alarm = d.update(value, now)
        if alarm:
            q = self.anomalies.setdefault(service_of(key), deque(maxlen=self.config.recent_anomalies))
            q.append({"time": now, "key": key, "metric": metric, "value": value, "score": round(score, 4)})

    def services(self) -> list[str]:
        return sorted(k for k in self.series if ROUTE_SEP not in k and CLUSTER_SEP not in k)

    def evaluate(self, service: str, now: float) -> Evaluation:
        c, rules = self.config, self.config.rules
        m = self.series[service]
        ring = m.rings[c.resolution_s]
        times, rates = ring.column("rate", c.history)
        _, p99 = ring.column("p99", c.history)
        _, rejections = ring.column("rejections", c.history)
        _, p50 = ring.column("p50", c.history)
        _, in_flight = ring.column("in_flight", c.history)
        _, started = ring.column("started", c.history)
        demand = capacity.demand(rates, in_flight, started, c.resolution_s)
        preds: list[predict.Prediction] = []
        doc: dict[str, Any] = {"resolution_s": c.resolution_s, "times": times.tolist(),
                               "rate": _clean(rates), "demand": _clean(demand), "p99": _clean(p99)}  # fmt: skip
        if rates.size >= max(rules.min_points, 2):
            f = self.forecaster.forecast(service, demand, now)
            holt = self.holt.get(service)
            fast = np.array([model.forecast(holt, h) for h in range(1, c.fast_horizon + 1)]) if holt else np.zeros(0)
            doc.update(mean=_clean(f.mean), model=f.model, periods=list(f.periods), note=f.note,
                       lower={str(k): _clean(v) for k, v in f.lower.items()},
                       upper={str(k): _clean(v) for k, v in f.upper.items()})  # fmt: skip
            ahead = np.maximum(f.mean, np.pad(fast, (0, max(0, f.mean.size - fast.size)))[: f.mean.size])
            little = self._little(service, p50)
            for p in (
                predict.spike(service, demand, f.mean, fast, c.resolution_s, now, rules),
                predict.shortage(service, rates, p99, rejections, ahead, c.resolution_s, now, rules, little, demand),
            ):
                if p is not None:
                    preds.append(p)
        recent = max(rules.min_points // 2, 5) * 2
        horizon_s = float(c.horizon * c.resolution_s)
        for key in [service] + [k for k in self.series if k.startswith(service + CLUSTER_SEP)]:
            r = self.series[key].rings[c.resolution_s]
            t, kp99 = r.column("p99", recent)
            _, kerr = r.column("error_rate", recent)
            d = predict.degradation(key, t.astype(np.float64), kp99, kerr, horizon_s, now, rules)
            if d is not None:
                preds.append(d)
        return Evaluation(preds, doc, self.profile(service))

    def _little(self, service: str, p50: np.ndarray) -> float | None:
        limit = self.concurrency.get(service)
        finite = p50[np.isfinite(p50)]
        if not limit or finite.size < 5:
            return None
        return capacity.little_capacity(limit, float(np.percentile(finite, 25)))

    def profile(self, service: str) -> dict[str, Any]:
        m = self.series[service]
        res = 3600 if 3600 in m.rings and m.rings[3600].size >= 24 else min(m.rings)
        times, rates = m.rings[res].column("rate")
        if times.size == 0:
            return {}
        p = predict.profile(times, rates)
        return {"resolution_s": res, "hourly": _clean(np.array(p.hourly)), "weekly": _clean(np.array(p.weekly)),
                "peak_hours": p.peak_hours, "points": p.points}  # fmt: skip


def _clean(values: np.ndarray) -> list[float | None]:
    """JSON-safe floats (NaN -> None), rounded."""
    return [None if not np.isfinite(v) else round(float(v), 6) for v in np.asarray(values, dtype=np.float64)]
