"""What a scenario file says happens when (pure): scaling, an endpoint's state at time t, the cache's key updates.

The real-process runner and the simulator read the same Scenario; these helpers turn it into what
the upstream processes and the load generator need:

- `scaled(sc, time_scale, rate_scale)`: a shorter run (every time on the scenario's timeline — the
  duration, load steps, endpoint and cache events — multiplied by `time_scale`) or a lighter one
  (arrival rates and endpoint capacities multiplied by `rate_scale`, so utilisation stays the same).
  Service times, the SLO and the cache's update intervals are not scaled.
- `endpoint_state(ep, t)`: capacity, median latency, error rate and down flag after the events up to t.
- `Updates`: every key's update times (a Poisson process per key with mean interval
  `update_interval`, changed by `cache.events`), drawn from the scenario's seed, so the upstreams and
  the load generator agree on each key's version at any time without talking to each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from engines.tune.scenario import Cache, Endpoint, Event, LoadStep, Scenario


def scaled(sc: Scenario, time_scale: float = 1.0, rate_scale: float = 1.0) -> Scenario:
    """The scenario with its timeline stretched by `time_scale` and its rates/capacities by `rate_scale`."""
    if not (math.isfinite(time_scale) and time_scale > 0):
        raise ValueError(f"time scale must be a positive number, got {time_scale}")
    if not (math.isfinite(rate_scale) and rate_scale > 0):
        raise ValueError(f"rate scale must be a positive number, got {rate_scale}")
    if time_scale == 1.0 and rate_scale == 1.0:
        return sc

    def event(e: Event) -> Event:
        cap = None if e.capacity is None else e.capacity * rate_scale
        return replace(e, at=e.at * time_scale, capacity=cap)

    def endpoint(ep: Endpoint) -> Endpoint:
        return replace(ep, capacity=ep.capacity * rate_scale, events=tuple(event(e) for e in ep.events))

    def step(s: LoadStep) -> LoadStep:
        ramp = None if s.ramp_to is None else s.ramp_to * rate_scale
        return LoadStep(at=s.at * time_scale, rate=s.rate * rate_scale, ramp_to=ramp)

    cache: Cache | None = None
    if sc.cache is not None:
        cache = replace(sc.cache, events=tuple((at * time_scale, ui) for at, ui in sc.cache.events))
    return replace(
        sc,
        duration=sc.duration * time_scale,
        endpoints=tuple(endpoint(ep) for ep in sc.endpoints),
        load=tuple(step(s) for s in sc.load),
        cache=cache,
    )


@dataclass(frozen=True, slots=True)
class EndpointState:
    capacity: float
    latency: float
    error_rate: float
    down: bool


def endpoint_state(ep: Endpoint, t: float) -> EndpointState:
    """The endpoint as the scenario has it at `t` seconds: its initial values changed by every event up to t."""
    state = EndpointState(ep.capacity, ep.latency, ep.error_rate, False)
    for e in ep.events:
        if e.at > t:
            break
        state = EndpointState(
            capacity=state.capacity if e.capacity is None else e.capacity,
            latency=state.latency if e.latency is None else e.latency,
            error_rate=state.error_rate if e.error_rate is None else e.error_rate,
            down=state.down if e.down is None else e.down,
        )
    return state


def zipf_shares(keys: int, s: float) -> np.ndarray:
    w = 1.0 / np.arange(1, keys + 1, dtype=float) ** s
    out: np.ndarray = w / w.sum()
    return out


class Updates:
    """Each key's update times over [0, horizon]; `version(key, t)` = how many updates it has had by t.

    All keys together form a Poisson process of rate keys / update_interval (piecewise constant per
    cache event); each update picks its key uniformly: the same as one Poisson process per key.
    """

    def __init__(self, cache: Cache, horizon: float, seed: int) -> None:
        rng = np.random.default_rng([seed, 0x5CA1E])
        pieces = [(0.0, cache.update_interval), *cache.events]
        times: list[np.ndarray] = []
        for i, (start, interval) in enumerate(pieces):
            end = pieces[i + 1][0] if i + 1 < len(pieces) else horizon
            if end <= start:
                continue
            n = int(rng.poisson(cache.keys / interval * (end - start)))
            times.append(np.sort(rng.uniform(start, end, n)))
        all_times = np.concatenate(times) if times else np.zeros(0)
        keys = rng.integers(0, cache.keys, all_times.size)
        order = np.argsort(keys, kind="stable")
        sorted_keys, sorted_times = keys[order], all_times[order]
        bounds = np.searchsorted(sorted_keys, np.arange(cache.keys + 1))
        self._per_key = [np.sort(sorted_times[bounds[k] : bounds[k + 1]]) for k in range(cache.keys)]

    def version(self, key: int, t: float) -> int:
        return int(np.searchsorted(self._per_key[key], t, side="right"))


def to_dict(sc: Scenario) -> dict[str, Any]:
    """The scenario in the file format (times as bare seconds), e.g. to hand a scaled one to another process."""

    def event(e: Event) -> dict[str, Any]:
        out: dict[str, Any] = {"at": e.at}
        for name in ("latency", "error_rate", "capacity", "down"):
            if getattr(e, name) is not None:
                out[name] = getattr(e, name)
        return out

    doc: dict[str, Any] = {
        "name": sc.name,
        "duration": sc.duration,
        "seed": sc.seed,
        "slo": {"latency": sc.slo.latency, "deadline": sc.slo.deadline, "try_timeout": sc.slo.try_timeout},
        "endpoints": [
            {
                "capacity": ep.capacity,
                "latency": ep.latency,
                "error_rate": ep.error_rate,
                "group": ep.group,
                "events": [event(e) for e in ep.events],
            }
            for ep in sc.endpoints
        ],
        "load": [
            {"at": s.at, "rate": s.rate} | ({"ramp_to": s.ramp_to} if s.ramp_to is not None else {}) for s in sc.load
        ],
    }
    if sc.cache is not None:
        c = sc.cache
        doc["cache"] = {"keys": c.keys, "zipf": c.zipf, "update_interval": c.update_interval,
                        "events": [{"at": at, "update_interval": ui} for at, ui in c.events]}  # fmt: skip
    if sc.routes:
        doc["routes"] = dict(sc.routes)
    return doc
