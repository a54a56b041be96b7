"""Telemetry windows: copy the registry at `now`, subtract the previous copy, encode the delta.

Pure: the caller passes `now` (wall clock seconds); no I/O, no clocks read here. Because each
window is the difference of two cumulative snapshots, every finished call lands in exactly one
window — the one in which it finished — and nothing is double-counted or lost between windows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from apex.mesh.contract import histogram
from apex.mesh.contract.histogram import Histogram
from apex.mesh.v1 import telemetry_pb2

from sidecar.core.call import Code
from sidecar.telemetry.registry import EndpointKey, Exemplar, MethodSeries, Registry, RouteKey, Series


@dataclass(slots=True)
class MethodCopy:
    started: int
    finished: int
    codes: dict[Code, int]
    latency: Histogram


def copy_method(method: MethodSeries) -> MethodCopy:
    return MethodCopy(method.started, method.finished, dict(method.codes), method.latency.copy())


EMPTY_METHOD = MethodCopy(0, 0, {}, Histogram())


@dataclass(slots=True)
class SeriesCopy:
    started: int
    finished: int
    errors: int
    in_flight: int
    peak: int
    codes: dict[Code, int]
    latency: Histogram
    request_bytes: int
    response_bytes: int
    counters: dict[str, int]
    methods: dict[str, MethodCopy] = field(default_factory=dict)  # route series only


def copy_series(series: Series) -> SeriesCopy:
    """Copy `series` and restart its in-flight peak from the current in-flight count."""
    peak, series.peak = series.peak, series.in_flight
    return SeriesCopy(
        series.started, series.finished, series.errors, series.in_flight, peak, dict(series.codes),
        series.latency.copy(), series.request_bytes, series.response_bytes, dict(series.counters),
        {path: copy_method(m) for path, m in series.methods.items()},
    )  # fmt: skip


EMPTY = SeriesCopy(0, 0, 0, 0, 0, {}, Histogram(), 0, 0, {})


@dataclass(slots=True)
class Snapshot:
    time: float
    routes: dict[RouteKey, SeriesCopy]
    endpoints: dict[EndpointKey, SeriesCopy]
    cluster_counters: dict[str, dict[str, int]]
    cluster_states: dict[str, dict[str, str]]
    endpoint_states: dict[EndpointKey, dict[str, str]]
    unrouted: int
    policy_version: str
    exemplars: dict[RouteKey, tuple[Exemplar | None, list[Exemplar]]]


def snapshot(registry: Registry, now: float) -> Snapshot:
    registry.refresh()
    routes = {k: copy_series(s) for k, s in registry.routes.items()}
    for key, copied in routes.items():
        copied.counters = registry.route_counters(key)
    endpoints = {k: copy_series(s) for k, s in registry.endpoints.items()}
    for ekey, copied in endpoints.items():
        copied.counters = registry.endpoint_counters(ekey)
    return Snapshot(
        time=now,
        routes=routes,
        endpoints=endpoints,
        cluster_counters=registry.cluster_totals(),
        cluster_states={k: dict(v) for k, v in registry.cluster_states.items()},
        endpoint_states={k: dict(v) for k, v in registry.endpoint_states.items()},
        unrouted=registry.unrouted(),
        policy_version=registry.policy_version,
        exemplars={k: taken for k, s in registry.routes.items() if (taken := s.exemplars.take()) != (None, [])},
    )


def _diff(cur: Mapping[str, int], prev: Mapping[str, int]) -> dict[str, int]:
    return {k: n - prev.get(k, 0) for k, n in cur.items() if n != prev.get(k, 0)}


def fill_aggregate(out: telemetry_pb2.Aggregate, cur: SeriesCopy, prev: SeriesCopy) -> None:
    """Write the window delta between two copies of one series into `out`."""
    out.calls += cur.finished - prev.finished
    out.started += cur.started - prev.started
    out.errors += cur.errors - prev.errors
    for code, n in cur.codes.items():
        delta = n - prev.codes.get(code, 0)
        if delta:
            name = _code_name(code)
            out.status_codes[name] = out.status_codes[name] + delta
    out.in_flight += cur.in_flight
    out.in_flight_peak += cur.peak
    out.request_bytes += cur.request_bytes - prev.request_bytes
    out.response_bytes += cur.response_bytes - prev.response_bytes
    for name, delta in _diff(cur.counters, prev.counters).items():
        out.counters[name] = out.counters[name] + delta
    merged = histogram.decode(out.latency)
    merged.merge(cur.latency.minus(prev.latency))
    histogram.encode(merged, out.latency)


def fill_methods(out: telemetry_pb2.RouteAggregate, cur: SeriesCopy, prev: SeriesCopy) -> None:
    """The window delta of each of a route's methods that started or finished calls in it."""
    for path in sorted(cur.methods):
        now, before = cur.methods[path], prev.methods.get(path, EMPTY_METHOD)
        started, finished = now.started - before.started, now.finished - before.finished
        if not started and not finished:
            continue
        stats = out.methods.add(method=path).stats
        stats.started, stats.calls = started, finished
        for code, n in now.codes.items():
            delta = n - before.codes.get(code, 0)
            if delta:
                stats.status_codes[_code_name(code)] = delta
                if code:
                    stats.errors += delta
        histogram.encode(now.latency.minus(before.latency), stats.latency)


def _code_name(code: int) -> str:
    try:
        return Code(code).name
    except ValueError:
        return str(code)


@dataclass(frozen=True, slots=True)
class Identity:
    service: str
    instance: str
    zone: str = ""


def build(
    prev: Snapshot, cur: Snapshot, who: Identity, sequence: int, dropped: int = 0
) -> telemetry_pb2.TelemetryWindow:
    """The TelemetryWindow for the interval (prev.time, cur.time]."""
    w = telemetry_pb2.TelemetryWindow(
        service=who.service, instance=who.instance, zone=who.zone, sequence=sequence,
        policy_version=cur.policy_version, unrouted=cur.unrouted - prev.unrouted, dropped_windows=dropped,
    )  # fmt: skip
    w.window_start.FromNanoseconds(round(prev.time * 1e9))
    w.window.FromNanoseconds(max(round((cur.time - prev.time) * 1e9), 0))
    for key in sorted(cur.routes):
        listener, route, cluster = key
        r = w.routes.add(listener=listener, route=route, cluster=cluster)
        fill_aggregate(r.stats, cur.routes[key], prev.routes.get(key, EMPTY))
        fill_methods(r, cur.routes[key], prev.routes.get(key, EMPTY))
        slowest, failed = cur.exemplars.get(key, (None, []))
        if slowest is not None:
            fill_exemplar(r.slowest, slowest)
        for exemplar in failed:
            fill_exemplar(r.failed.add(), exemplar)
    clusters: dict[str, telemetry_pb2.ClusterAggregate] = {}

    def cluster_agg(name: str) -> telemetry_pb2.ClusterAggregate:
        if name not in clusters:
            clusters[name] = telemetry_pb2.ClusterAggregate(name=name)
        return clusters[name]

    for ekey in sorted(cur.endpoints):
        cluster, address = ekey
        e = w.endpoints.add(cluster=cluster, address=address)
        fill_aggregate(e.stats, cur.endpoints[ekey], prev.endpoints.get(ekey, EMPTY))
        e.states.update(cur.endpoint_states.get(ekey, {}))
        fill_aggregate(cluster_agg(cluster).stats, cur.endpoints[ekey], prev.endpoints.get(ekey, EMPTY))
    for name, counters in cur.cluster_counters.items():
        for counter, delta in _diff(counters, prev.cluster_counters.get(name, {})).items():
            agg = cluster_agg(name).stats
            agg.counters[counter] = agg.counters[counter] + delta
    for name, states in cur.cluster_states.items():
        cluster_agg(name).states.update(states)
    for name in sorted(clusters):
        w.clusters.append(clusters[name])
    return w


def fill_exemplar(out: telemetry_pb2.Exemplar, exemplar: Exemplar) -> None:
    out.trace_id, out.span_id, out.method = exemplar.trace_id, exemplar.span_id, exemplar.method
    out.code, out.seconds = Code(exemplar.code).name, exemplar.seconds
    out.time.FromNanoseconds(round(exemplar.time * 1e9))


class Roller:
    """Turns successive registry snapshots into numbered windows."""

    def __init__(self, registry: Registry, who: Identity, now: float) -> None:
        self.registry = registry
        self.who = who
        self.sequence = 0
        self._prev = snapshot(registry, now)

    def roll(self, now: float, dropped: int = 0) -> telemetry_pb2.TelemetryWindow:
        cur = snapshot(self.registry, now)
        self.sequence += 1
        window = build(self._prev, cur, self.who, self.sequence, dropped)
        self._prev = cur
        return window
