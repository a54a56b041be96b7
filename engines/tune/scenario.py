"""Scenario files for the tuning simulator: parse and validate the YAML format of issue 12 into frozen dataclasses.

Format (every field below is accepted; anything else is an error naming its path)::

    name: gray-failure
    duration: 120s
    seed: 7
    slo: {latency: 100ms, deadline: 200ms, try_timeout: 100ms}  # extensions: deadline (default 2 x
                                                # latency) and try_timeout (default latency)
    endpoints:
      - {capacity: 400, latency: 5ms}
      - {capacity: 400, latency: 5ms, events: [{at: 30s, latency: 60ms}, {at: 90s, latency: 5ms}]}
      - {capacity: 400, latency: 5ms, group: v2}  # group: extension (versions), default "v1"
    routes: {v1: 90, v2: 10}                      # extension: route weights between groups
    load:
      - {at: 0s, rate: 300}
      - {at: 60s, rate: 900, ramp_to: 1200}
    cache: {keys: 1000, zipf: 1.1, update_interval: 10s}

Durations are `<number><unit>` with unit ms, s or m (a bare number means seconds).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message names the file, the field path and the reason."""


_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}


@dataclass(frozen=True, slots=True)
class Event:
    """A change to one endpoint at `at` seconds; None fields keep their current value."""

    at: float
    latency: float | None = None
    error_rate: float | None = None
    capacity: float | None = None
    down: bool | None = None


@dataclass(frozen=True, slots=True)
class Endpoint:
    capacity: float  # calls/s served before queueing
    latency: float  # median service time, seconds
    events: tuple[Event, ...] = ()
    error_rate: float = 0.0
    group: str = "v1"


@dataclass(frozen=True, slots=True)
class LoadStep:
    at: float
    rate: float
    ramp_to: float | None = None  # rate reached linearly by the next step's `at` (or the end)


@dataclass(frozen=True, slots=True)
class Cache:
    keys: int
    zipf: float
    update_interval: float  # mean seconds between updates of one key
    events: tuple[tuple[float, float], ...] = ()  # extension: (at, update_interval) changes


@dataclass(frozen=True, slots=True)
class Slo:
    latency: float
    deadline: float
    try_timeout: float


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    duration: float
    seed: int
    slo: Slo
    endpoints: tuple[Endpoint, ...]
    load: tuple[LoadStep, ...]
    cache: Cache | None = None
    routes: tuple[tuple[str, float], ...] = ()  # (group, weight); empty: all groups alike

    def rate_at(self, t: float) -> float:
        """The open-loop arrival rate (calls/s) at time t."""
        steps = self.load
        current = steps[0]
        nxt_at = self.duration
        for i, step in enumerate(steps):
            if step.at <= t:
                current = step
                nxt_at = steps[i + 1].at if i + 1 < len(steps) else self.duration
        if t < current.at:
            return 0.0
        if current.ramp_to is None or nxt_at <= current.at:
            return current.rate
        frac = min(max((t - current.at) / (nxt_at - current.at), 0.0), 1.0)
        return current.rate + frac * (current.ramp_to - current.rate)

    def disturbances(self) -> tuple[float, ...]:
        """Times at which the scenario changes something (load steps, endpoint and cache events), sorted."""
        times = {s.at for s in self.load if s.at > 0}
        times |= {e.at for ep in self.endpoints for e in ep.events}
        if self.cache is not None:
            times |= {at for at, _ in self.cache.events}
        return tuple(sorted(times))


def parse_duration(value: Any, path: str) -> float:
    """Seconds from `120s`, `100ms`, `2m` or a bare number; ScenarioError naming `path` otherwise."""
    if isinstance(value, bool):
        raise ScenarioError(f"{path}: expected a duration like 120s or 100ms, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ScenarioError(f"{path}: expected a duration like 120s or 100ms, got {value!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ScenarioError(f"{path}: must be a finite, non-negative duration, got {value!r}")
    return seconds


def _mapping(value: Any, path: str, allowed: set[str], required: Collection[str] = ()) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ScenarioError(f"{path}: expected a mapping, got {type(value).__name__}")
    for key in value:
        if key not in allowed:
            raise ScenarioError(f"{path}.{key}: unknown field (known: {', '.join(sorted(allowed))})")
    for key in sorted(required):
        if key not in value:
            raise ScenarioError(f"{path}.{key}: required field is missing")
    return value


def _number(value: Any, path: str, *, low: float = 0.0, high: float = math.inf, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ScenarioError(f"{path}: expected a finite number, got {value!r}")
    if positive and value <= 0:
        raise ScenarioError(f"{path}: must be positive, got {value!r}")
    if value < low or value > high:
        what = f"within {low:g}..{high:g}" if math.isfinite(high) else f"at least {low:g}"
        if low == 0 and not math.isfinite(high):
            what = "non-negative"
        raise ScenarioError(f"{path}: must be {what}, got {value!r}")
    return float(value)


def _events(value: Any, path: str, duration: float) -> tuple[Event, ...]:
    if not isinstance(value, list):
        raise ScenarioError(f"{path}: expected a list of events, got {type(value).__name__}")
    out: list[Event] = []
    for i, raw in enumerate(value):
        p = f"{path}[{i}]"
        m = _mapping(raw, p, {"at", "latency", "error_rate", "capacity", "down"}, {"at"})
        at = parse_duration(m["at"], f"{p}.at")
        if at > duration:
            raise ScenarioError(f"{p}.at: {m['at']} is beyond the scenario's duration ({duration:g}s)")
        if out and at < out[-1].at:
            raise ScenarioError(f"{p}.at: events out of order ({m['at']} comes before the previous event's time)")
        down = m.get("down")
        if down is not None and not isinstance(down, bool):
            raise ScenarioError(f"{p}.down: expected true or false, got {down!r}")
        if len(m) == 1:
            raise ScenarioError(f"{p}: an event changes nothing (give latency, error_rate, capacity or down)")
        out.append(Event(
            at=at,
            latency=parse_duration(m["latency"], f"{p}.latency") if "latency" in m else None,
            error_rate=_number(m["error_rate"], f"{p}.error_rate", high=1.0) if "error_rate" in m else None,
            capacity=_number(m["capacity"], f"{p}.capacity", positive=True) if "capacity" in m else None,
            down=down,
        ))  # fmt: skip
    return tuple(out)


def _endpoint(raw: Any, path: str, duration: float) -> Endpoint:
    m = _mapping(raw, path, {"capacity", "latency", "events", "error_rate", "group"}, {"capacity", "latency"})
    latency = parse_duration(m["latency"], f"{path}.latency")
    if latency <= 0:
        raise ScenarioError(f"{path}.latency: must be positive, got {m['latency']!r}")
    group = m.get("group", "v1")
    if not isinstance(group, str) or not group:
        raise ScenarioError(f"{path}.group: expected a non-empty name, got {group!r}")
    return Endpoint(
        capacity=_number(m["capacity"], f"{path}.capacity", positive=True),
        latency=latency,
        events=_events(m.get("events", []), f"{path}.events", duration),
        error_rate=_number(m.get("error_rate", 0.0), f"{path}.error_rate", high=1.0),
        group=group,
    )


def _load(value: Any, duration: float) -> tuple[LoadStep, ...]:
    if not isinstance(value, list) or not value:
        raise ScenarioError("load: expected a non-empty list of steps")
    out: list[LoadStep] = []
    for i, raw in enumerate(value):
        p = f"load[{i}]"
        m = _mapping(raw, p, {"at", "rate", "ramp_to"}, {"at", "rate"})
        at = parse_duration(m["at"], f"{p}.at")
        if at > duration:
            raise ScenarioError(f"{p}.at: {m['at']} is beyond the scenario's duration ({duration:g}s)")
        if out and at <= out[-1].at:
            raise ScenarioError(f"{p}.at: steps out of order ({m['at']} is not after the previous step)")
        ramp = _number(m["ramp_to"], f"{p}.ramp_to") if "ramp_to" in m else None
        out.append(LoadStep(at=at, rate=_number(m["rate"], f"{p}.rate"), ramp_to=ramp))
    if out[0].at != 0:
        raise ScenarioError("load[0].at: the first step must start at 0s")
    return tuple(out)


def _cache(value: Any, duration: float) -> Cache:
    m = _mapping(value, "cache", {"keys", "zipf", "update_interval", "events"}, {"keys", "zipf", "update_interval"})
    keys = m["keys"]
    if isinstance(keys, bool) or not isinstance(keys, int) or keys < 1:
        raise ScenarioError(f"cache.keys: expected a positive whole number, got {keys!r}")
    interval = parse_duration(m["update_interval"], "cache.update_interval")
    if interval <= 0:
        raise ScenarioError("cache.update_interval: must be positive")
    events: list[tuple[float, float]] = []
    raw_events = m.get("events", [])
    if not isinstance(raw_events, list):
        raise ScenarioError("cache.events: expected a list")
    for i, raw in enumerate(raw_events):
        p = f"cache.events[{i}]"
        e = _mapping(raw, p, {"at", "update_interval"}, {"at", "update_interval"})
        at = parse_duration(e["at"], f"{p}.at")
        if at > duration:
            raise ScenarioError(f"{p}.at: {e['at']} is beyond the scenario's duration ({duration:g}s)")
        if events and at < events[-1][0]:
            raise ScenarioError(f"{p}.at: events out of order")
        ui = parse_duration(e["update_interval"], f"{p}.update_interval")
        if ui <= 0:
            raise ScenarioError(f"{p}.update_interval: must be positive")
        events.append((at, ui))
    return Cache(keys=keys, zipf=_number(m["zipf"], "cache.zipf", positive=True), update_interval=interval,
                 events=tuple(events))  # fmt: skip


_TOP = {"name", "duration", "seed", "slo", "endpoints", "load", "cache", "routes"}


def from_dict(data: Any) -> Scenario:
    """A validated Scenario from parsed YAML; ScenarioError naming the field path and reason otherwise."""
    m = _mapping(data, "scenario", _TOP, {"name", "duration", "slo", "endpoints", "load"})
    name = m["name"]
    if not isinstance(name, str) or not name.strip():
        raise ScenarioError(f"name: expected a non-empty string, got {name!r}")
    duration = parse_duration(m["duration"], "duration")
    if duration <= 0:
        raise ScenarioError("duration: must be positive")
    seed = m.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ScenarioError(f"seed: expected a non-negative whole number, got {seed!r}")
    s = _mapping(m["slo"], "slo", {"latency", "deadline", "try_timeout"}, {"latency"})
    slo_latency = parse_duration(s["latency"], "slo.latency")
    if slo_latency <= 0:
        raise ScenarioError("slo.latency: must be positive")
    deadline = parse_duration(s["deadline"], "slo.deadline") if "deadline" in s else 2.0 * slo_latency
    if deadline < slo_latency:
        raise ScenarioError("slo.deadline: must be at least slo.latency")
    try_timeout = parse_duration(s["try_timeout"], "slo.try_timeout") if "try_timeout" in s else slo_latency
    if not 0 < try_timeout <= deadline:
        raise ScenarioError("slo.try_timeout: must be positive and at most slo.deadline")
    raw_eps = m["endpoints"]
    if not isinstance(raw_eps, list) or not raw_eps:
        raise ScenarioError("endpoints: expected a non-empty list")
    endpoints = tuple(_endpoint(raw, f"endpoints[{i}]", duration) for i, raw in enumerate(raw_eps))
    routes: tuple[tuple[str, float], ...] = ()
    if "routes" in m:
        r = m["routes"]
        groups = {e.group for e in endpoints}
        if not isinstance(r, Mapping) or not r:
            raise ScenarioError("routes: expected a mapping of group to weight")
        for g, w in r.items():
            if g not in groups:
                raise ScenarioError(f"routes.{g}: no endpoint is in group {g!r} (groups: {', '.join(sorted(groups))})")
            _number(w, f"routes.{g}")
        routes = tuple((str(g), float(w)) for g, w in r.items())
        if sum(w for _, w in routes) <= 0:
            raise ScenarioError("routes: the weights add up to zero")
    return Scenario(
        name=name.strip(),
        duration=duration,
        seed=seed,
        slo=Slo(latency=slo_latency, deadline=deadline, try_timeout=try_timeout),
        endpoints=endpoints,
        load=_load(m["load"], duration),
        cache=_cache(m["cache"], duration) if m.get("cache") is not None else None,
        routes=routes,
    )


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key repeated in one mapping is an error (PyYAML keeps the
    last silently, so a second `load:` would drop the first without a word)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                repeated = key in seen
            except TypeError:  # an unhashable key: let PyYAML report it
                break
            if repeated:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} appears twice in one mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, a key repeated in it being an error (json keeps the last silently)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ScenarioError(f"the key {key!r} appears twice in one object")
        out[key] = value
    return out


def _yaml_error(exc: yaml.YAMLError) -> str:
    """A parser error on one line: where (line and column, 1-based) and what."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}{problem}" + (f" ({context})" if context else "")


def loads(text: str, source: str = "<scenario>") -> Scenario:
    """Parse scenario YAML (or JSON) text; errors are one line prefixed with `source`.

    Text starting with `{` is read as JSON first (YAML's reading of JSON rejects tab indentation),
    then as YAML (a flow mapping); when neither reads it, both errors are given.
    """
    try:
        json_error = ""
        if text.lstrip().startswith("{"):
            try:
                data = json.loads(text, object_pairs_hook=_unique_pairs)
            except json.JSONDecodeError as exc:
                json_error = f"line {exc.lineno}, column {exc.colno}: {exc.msg}"
            except ScenarioError as exc:  # a repeated key
                raise ScenarioError(f"{source}: not valid JSON: {exc}") from None
        if not text.lstrip().startswith("{") or json_error:
            try:
                data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
            except yaml.YAMLError as exc:
                if json_error:
                    raise ScenarioError(
                        f"{source}: not valid JSON ({json_error}) nor YAML ({_yaml_error(exc)})"
                    ) from None
                raise ScenarioError(f"{source}: not valid YAML: {_yaml_error(exc)}") from None
    except RecursionError:
        raise ScenarioError(f"{source}: nested too deeply to be a scenario") from None
    try:
        return from_dict(data)
    except ScenarioError as exc:
        raise ScenarioError(f"{source}: {exc}") from None


def load(path: str | Path) -> Scenario:
    """Read and parse a scenario file (UTF-8, a byte-order mark allowed)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ScenarioError(f"{p}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{p}: not a UTF-8 text file") from None
    return loads(text, str(p))
