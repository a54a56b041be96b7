"""Golden metrics kept in process: per route/cluster/endpoint series, policy counters, events.

The data path only bumps plain integers here (`Series.start` / `Series.finish`, `Registry.count`).
Readers — the /metrics endpoint and the telemetry window roller — take copies; nothing here does
I/O. `Registry` is also the `Sink` other policy layers report their decisions to (see
docs/observability.md): retries, ejections, breaker/cache/rate-limit decisions and events.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from apex.mesh.contract.histogram import Histogram

from sidecar.core.call import Code

RouteKey = tuple[str, str, str]  # (listener, route, cluster)
EndpointKey = tuple[str, str]  # (cluster, address)


class Series:
    """Counters of one route, or one endpoint: cumulative since start, except the in-flight peak."""

    __slots__ = ("codes", "counters", "errors", "finished", "in_flight", "latency", "peak", "request_bytes",
                 "response_bytes", "started")  # fmt: skip

    def __init__(self) -> None:
        self.started = 0
        self.finished = 0
        self.errors = 0
        self.in_flight = 0
        self.peak = 0  # highest in_flight since the last window roll
        self.codes: dict[Code, int] = {}
        self.latency = Histogram()
        self.request_bytes = 0
        self.response_bytes = 0
        self.counters: dict[str, int] = {}

    def start(self) -> None:
        self.started += 1
        self.in_flight += 1
        if self.in_flight > self.peak:
            self.peak = self.in_flight

    def finish(self, code: Code, seconds: float) -> None:
        self.in_flight -= 1
        self.finished += 1
        if code:
            self.errors += 1
        codes = self.codes
        codes[code] = codes.get(code, 0) + 1
        self.latency.record(seconds)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n


class Priority(enum.IntEnum):
    """Event priority, same numbers as apex.mesh.v1.Priority."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    priority: Priority
    time: float  # wall clock, seconds
    message: str = ""
    correlation_id: str = ""
    route: str = ""
    cluster: str = ""
    endpoint: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict)


class Sink(Protocol):
    """What policy layers report to. Every method is cheap, synchronous and never raises or blocks."""

    def count(self, name: str, n: int = 1, *, route: RouteKey | None = None, cluster: str = "",
              endpoint: str = "") -> None:  # fmt: skip
        """Add `n` to counter `name` on the endpoint (cluster+endpoint), the route, or the cluster."""
        ...

    def state(self, name: str, value: str, *, cluster: str, endpoint: str = "") -> None:
        """Record the current state of something, e.g. ("breaker", "open") or ("outlier", "ejected")."""
        ...

    def event(self, kind: str, priority: Priority, message: str = "", *, correlation_id: str = "",
              route: str = "", cluster: str = "", endpoint: str = "",
              attributes: Mapping[str, str] | None = None) -> None:  # fmt: skip
        """Queue a discrete event for the events stream."""
        ...


class Registry:
    """All series of one sidecar, the policy-layer counters and states, and queued events."""

    def __init__(self, clock: Callable[[], float], max_events: int = 1000) -> None:
        self._clock = clock  # wall clock for event times
        self.routes: dict[RouteKey, Series] = {}
        self.endpoints: dict[EndpointKey, Series] = {}
        self.cluster_counters: dict[str, dict[str, int]] = {}
        self.cluster_states: dict[str, dict[str, str]] = {}
        self.endpoint_states: dict[EndpointKey, dict[str, str]] = {}
        self.events: deque[Event] = deque(maxlen=max_events)
        self.events_dropped = 0
        self.policy_version = ""
        self.unrouted: Callable[[], int] = lambda: 0
        # Counters other parts keep themselves, read only when a window rolls or /metrics is
        # scraped (no per-call cost): each returns {(listener, route): {counter name: total}}.
        self.pullers: list[Callable[[], Mapping[tuple[str, str], Mapping[str, int]]]] = []
        self._current: dict[tuple[str, str], RouteKey] = {}
        # Run before each window roll and /metrics render: they copy state other parts keep
        # (cluster breakers, ejections) into `pulled_cluster` / `pulled_endpoint` and the states.
        self.refreshers: list[Callable[[], None]] = []
        self.pulled_cluster: dict[str, dict[str, int]] = {}
        self.pulled_endpoint: dict[EndpointKey, dict[str, int]] = {}

    def refresh(self) -> None:
        for refresh in self.refreshers:
            refresh()

    def cluster_totals(self) -> dict[str, dict[str, int]]:
        """Cluster counters: reported through the Sink plus pulled ones."""
        out = {k: dict(v) for k, v in self.cluster_counters.items()}
        for cluster, counters in self.pulled_cluster.items():
            merged = out.setdefault(cluster, {})
            for name, n in counters.items():
                merged[name] = merged.get(name, 0) + n
        return out

    def endpoint_counters(self, key: EndpointKey) -> dict[str, int]:
        counters = dict(self.endpoints[key].counters) if key in self.endpoints else {}
        for name, n in self.pulled_endpoint.get(key, {}).items():
            counters[name] = counters.get(name, 0) + n
        return counters

    def pulled(self) -> dict[tuple[str, str], dict[str, int]]:
        """The pullers' route counters, summed per (listener, route)."""
        out: dict[tuple[str, str], dict[str, int]] = {}
        for pull in self.pullers:
            for key, counters in pull().items():
                merged = out.setdefault(key, {})
                for name, n in counters.items():
                    merged[name] = merged.get(name, 0) + n
        return out

    def route_counters(self, key: RouteKey, pulled: Mapping[tuple[str, str], Mapping[str, int]]) -> dict[str, int]:
        """A route's counters: those reported through the Sink plus the pulled ones."""
        counters = dict(self.routes[key].counters)
        if self._current.get((key[0], key[1])) != key:
            return counters  # an older series of a route whose cluster changed: no pulled counters
        for name, n in pulled.get((key[0], key[1]), {}).items():
            counters[name] = counters.get(name, 0) + n
        return counters

    # --- series (created when stacks are built, never on the data path) ----------------------

    def route(self, listener: str, route: str, cluster: str) -> Series:
        key = (listener, route, cluster)
        series = self.routes.get(key)
        if series is None:
            series = self.routes[key] = Series()
        self._current[(listener, route)] = key  # pulled counters go to the route's current series
        return series

    def endpoint(self, cluster: str, address: str) -> Series:
        key = (cluster, address)
        series = self.endpoints.get(key)
        if series is None:
            series = self.endpoints[key] = Series()
        return series

    # --- the Sink interface ----------------------------------------------------------------------

    def count(self, name: str, n: int = 1, *, route: RouteKey | None = None, cluster: str = "",
              endpoint: str = "") -> None:  # fmt: skip
        if endpoint:
            self.endpoint(cluster, endpoint).count(name, n)
        elif route is not None:
            self.route(*route).count(name, n)
        else:
            counters = self.cluster_counters.setdefault(cluster, {})
            counters[name] = counters.get(name, 0) + n

    def state(self, name: str, value: str, *, cluster: str, endpoint: str = "") -> None:
        if endpoint:
            self.endpoint_states.setdefault((cluster, endpoint), {})[name] = value
        else:
            self.cluster_states.setdefault(cluster, {})[name] = value

    def event(self, kind: str, priority: Priority, message: str = "", *, correlation_id: str = "",
              route: str = "", cluster: str = "", endpoint: str = "",
              attributes: Mapping[str, str] | None = None) -> None:  # fmt: skip
        if len(self.events) == self.events.maxlen:
            self.events_dropped += 1  # deque drops the oldest
        self.events.append(
            Event(kind, Priority(priority), self._clock(), message, correlation_id, route, cluster, endpoint,
                  dict(attributes or {}))
        )  # fmt: skip

    def drain_events(self) -> list[Event]:
        events = list(self.events)
        self.events.clear()
        return events


class NullSink:
    """A Sink that drops everything (layers built without telemetry)."""

    def count(self, name: str, n: int = 1, *, route: RouteKey | None = None, cluster: str = "",
              endpoint: str = "") -> None:  # fmt: skip
        return None

    def state(self, name: str, value: str, *, cluster: str, endpoint: str = "") -> None:
        return None

    def event(self, kind: str, priority: Priority, message: str = "", *, correlation_id: str = "",
              route: str = "", cluster: str = "", endpoint: str = "",
              attributes: Mapping[str, str] | None = None) -> None:  # fmt: skip
        return None
