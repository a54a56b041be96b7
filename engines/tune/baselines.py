"""Baseline controllers beside the agent: static, Envoy's gradient controller, Netflix Gradient2, peak EWMA.

A controller has a `name`, an `interval` (seconds between decisions), `start(params)` giving the
first configuration, and `decide(obs, params)` giving the next one. The adaptive concurrency
baselines only move `concurrency`; everything else stays at the default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Protocol

from engines.tune.params import DEFAULT, Params
from engines.tune.sim import Observation


class Controller(Protocol):
    name: str
    interval: float

    def start(self, params: Params) -> Params: ...

    def decide(self, obs: Observation, params: Params) -> Params: ...


@dataclass(slots=True)
class Static:
    """A fixed configuration (the default, the oracle's pick, or peak-EWMA balancing)."""

    params: Params = DEFAULT
    name: str = "default"
    interval: float = 1.0

    def start(self, params: Params) -> Params:
        return self.params

    def decide(self, obs: Observation, params: Params) -> Params:
        return params


def peak_ewma() -> Static:
    return Static(replace(DEFAULT, lb="peak_ewma"), name="peak-ewma")


class EnvoyGradient:
    """Envoy's adaptive_concurrency gradient controller (envoy/extensions/filters/http/adaptive_concurrency).

    Every 100 ms: gradient = clamp((min_rtt * (1 + buffer)) / sample_rtt, 0.5, 2.0) with sample_rtt the
    window's p50; limit = clamp(gradient * limit + sqrt(limit), min_concurrency, max_limit).
    Every `min_rtt_interval` (jittered by up to 15%) the limit is pinned to min_concurrency for one
    window whose p50 becomes the new min_rtt: the 503 burst of envoy#8337. Starts by measuring min_rtt.
    A window without calls leaves the limit alone.
    """

    name = "envoy-gradient"

    def __init__(self, interval: float = 0.1, buffer: float = 0.25, min_concurrency: int = 3,
                 max_limit: int = 1000, min_rtt_interval: float = 60.0, seed: int = 0) -> None:  # fmt: skip
        self.interval, self.buffer, self.min_c, self.max_limit = interval, buffer, min_concurrency, max_limit
        self.min_rtt_interval = min_rtt_interval
        self._phase = math.sin(seed + 1.0) * 0.5 + 0.5  # deterministic jitter fraction
        self.min_rtt = 0.0
        self.limit = float(min_concurrency)
        self.measuring = True
        self.next_measure = 0.0

    def start(self, params: Params) -> Params:
        return replace(params, concurrency=self.min_c)

    def decide(self, obs: Observation, params: Params) -> Params:
        if obs.calls == 0 or obs.p50 <= 0:
            return params
        if self.measuring:
            self.min_rtt = obs.p50
            self.measuring = False
            self.next_measure = obs.t + self.min_rtt_interval * (1.0 + 0.15 * self._phase)
            return replace(params, concurrency=int(self.limit))
        if obs.t >= self.next_measure:
            self.measuring = True
            return replace(params, concurrency=self.min_c)
        gradient = min(max(self.min_rtt * (1.0 + self.buffer) / obs.p50, 0.5), 2.0)
        self.limit = min(max(gradient * self.limit + math.sqrt(self.limit), self.min_c), self.max_limit)
        return replace(params, concurrency=int(self.limit))


class Gradient2:
    """Netflix concurrency-limits Gradient2Limit.

    long_rtt is an EWMA of the sample RTT (window 600 samples); when long_rtt/short_rtt > 2 it decays
    by 5% (drift back after load falls). If in-flight < limit/2 the limit holds (app-limited).
    gradient = clamp(1.5 * long_rtt / short_rtt, 0.5, 1.0); new = gradient * limit + sqrt(limit);
    limit = 0.8 * limit + 0.2 * new, within [min_limit, max_limit]. Starts at 20 (its default).
    """

    name = "gradient2"

    def __init__(self, interval: float = 0.1, initial: int = 20, min_limit: int = 8, max_limit: int = 1000,
                 tolerance: float = 1.5, smoothing: float = 0.2, long_window: int = 600) -> None:  # fmt: skip
        self.interval, self.limit, self.min_limit, self.max_limit = interval, float(initial), min_limit, max_limit
        self.tolerance, self.smoothing = tolerance, smoothing
        self.alpha = 2.0 / (long_window + 1)
        self.long_rtt = 0.0

    def start(self, params: Params) -> Params:
        return replace(params, concurrency=int(self.limit))

    def decide(self, obs: Observation, params: Params) -> Params:
        if obs.calls == 0 or obs.p50 <= 0:
            return params
        short = obs.p50
        self.long_rtt = short if self.long_rtt == 0 else (1 - self.alpha) * self.long_rtt + self.alpha * short
        if self.long_rtt / short > 2.0:
            self.long_rtt *= 0.95
        if obs.inflight < self.limit / 2:
            return params
        gradient = min(max(self.tolerance * self.long_rtt / short, 0.5), 1.0)
        new = gradient * self.limit + math.sqrt(self.limit)
        self.limit = min(max((1 - self.smoothing) * self.limit + self.smoothing * new, self.min_limit), self.max_limit)
        return replace(params, concurrency=int(self.limit))
