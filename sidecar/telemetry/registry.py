"""The sidecar's one counter store: per route/endpoint series, route decisions, cluster counters, events.

The data path only bumps plain integers here (`Series.start` / `Series.end` / `Series.finish`,
`RouteDecisions` fields). Readers — the admin API, the /metrics endpoint and the telemetry window
roller — read the same objects under the same names (docs/observability.md); nothing here does I/O.
Counters that cluster mechanisms keep themselves (caps, outlier, health, cache) are copied in by
refreshers at read time, already named `<layer>_<counter>`.
"""

from __future__ import annotations

import bisect
import enum
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from apex.mesh.contract.histogram import PROMETHEUS_BOUNDS, Histogram

from sidecar.core.call import Code, Status
from sidecar.telemetry.security_metrics import SecurityView

RouteKey = tuple[str, str, str]  # (listener, route, cluster)
EndpointKey = tuple[str, str]  # (cluster, address)

MAX_METHODS = 100  # distinct gRPC methods kept per route series; later ones are counted as OTHER_METHOD
OTHER_METHOD = "other"  # never a real method path (those start with "/")


class MethodSeries:
    """One gRPC method's calls, status codes and latency within a route series (for /metrics)."""

    __slots__ = ("codes", "finished", "latency", "started")

    def __init__(self) -> None:
        self.started = 0
        self.finished = 0
        self.codes: dict[Code, int] = {}
        self.latency = Histogram()

    def finish(self, code: Code, seconds: float) -> None:
        self.finished += 1
        codes = self.codes
        codes[code] = codes.get(code, 0) + 1
        self.latency.record(seconds)


MAX_FAILED_EXEMPLARS = 5  # failed sampled calls kept per route series per window


@dataclass(frozen=True, slots=True)
class Exemplar:
    """One sampled (traced) call: its trace and span ids, method, status, latency and wall-clock end."""

    trace_id: str
    span_id: str
    method: str
    code: Code
    seconds: float
    time: float


class Exemplars:
    """Sampled calls of one route series: the window's slowest and first failed ones (taken by the
    window roller), and for /metrics the latest per (method, latency bucket) and per (method, code).
    Only the trace layer records here, and only for sampled calls."""

    __slots__ = ("by_bucket", "by_code", "failed", "slowest")

    def __init__(self) -> None:
        self.slowest: Exemplar | None = None
        self.failed: list[Exemplar] = []
        self.by_bucket: dict[tuple[str, int], Exemplar] = {}  # bucket = index into PROMETHEUS_BOUNDS (+Inf last)
        self.by_code: dict[tuple[str, Code], Exemplar] = {}

    def record(self, exemplar: Exemplar) -> None:
        if self.slowest is None or exemplar.seconds > self.slowest.seconds:
            self.slowest = exemplar
        if exemplar.code and len(self.failed) < MAX_FAILED_EXEMPLARS:
            self.failed.append(exemplar)
        bucket = bisect.bisect_left(PROMETHEUS_BOUNDS, exemplar.seconds)
        self.by_bucket[(exemplar.method, bucket)] = exemplar
        self.by_code[(exemplar.method, exemplar.code)] = exemplar

    def take(self) -> tuple[Exemplar | None, list[Exemplar]]:
        """The window's slowest and failed exemplars; the next window starts without any."""
        taken = self.slowest, self.failed
        self.slowest, self.failed = None, []
        return taken


class Series:
    """Counters of one route, or one endpoint: cumulative since start, except the in-flight peak."""

    __slots__ = ("codes", "counters", "errors", "exemplars", "finished", "in_flight", "latency", "methods", "peak",
                 "request_bytes", "response_bytes", "started")  # fmt: skip

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
        self.methods: dict[str, MethodSeries] = {}  # per gRPC method (route series only), bounded
        self.exemplars = Exemplars()  # sampled calls (route series with tracing only)

    def method(self, path: str) -> MethodSeries:
        """The series of method `path`; once MAX_METHODS methods are known, new ones share OTHER_METHOD.

        The data path calls this only on a miss of `methods.get(path)`, so a known method costs one
        dict lookup; an overflowing method costs two.
        """
        methods = self.methods
        found = methods.get(path)
        if found is not None:
            return found
        if len(methods) >= MAX_METHODS + (OTHER_METHOD in methods):
            path = OTHER_METHOD
            found = methods.get(path)
            if found is not None:
                return found
        found = methods[path] = MethodSeries()
        return found

    def exemplar(self, trace_id: str, span_id: str, method: str, code: Code, seconds: float, time: float) -> None:
        """A sampled call finished (called by the trace layer); `method` as /metrics labels it."""
        if method not in self.methods and self.methods:
            method = OTHER_METHOD if len(self.methods) >= MAX_METHODS else method
        self.exemplars.record(Exemplar(trace_id, span_id, method, code, seconds, time))

    def start(self) -> None:
        self.started += 1
        self.in_flight += 1
        if self.in_flight > self.peak:
            self.peak = self.in_flight

    def end(self, status: Status) -> None:
        """A call finished (counts only: no latency sample)."""
        self.in_flight -= 1
        self.finished += 1
        code = status.code
        if code:
            self.errors += 1
        codes = self.codes
        codes[code] = codes.get(code, 0) + 1

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


@dataclass(slots=True)
class RouteDecisions:
    """A route's policy-layer decisions, kept across policy swaps.

    Field names match RouteDecisionCounters in route_policy.proto and are the counter names of
    windows and /metrics; split choices appear there as "split:<cluster>". Calls themselves are
    counted once, by the route's Series (RouteAdmin's `requests` is its `started`).
    """

    listener: str
    route: str
    split: Counter[str] = field(default_factory=Counter)
    header_overrides: int = 0
    fallbacks: int = 0
    timeouts: int = 0
    retries: int = 0
    retries_succeeded: int = 0
    budget_exhausted: int = 0
    budget_would_exhaust: int = 0
    not_retried_committed: int = 0
    not_retried_non_idempotent: int = 0
    rate_limited: int = 0
    rate_limited_shadow: int = 0
    fault_delays: int = 0
    fault_aborts: int = 0
    per_try_timeouts: int = 0

    def totals(self) -> dict[str, int]:
        """Non-zero counters by name (split choices as "split:<cluster>")."""
        out = {name: value for name in _DECISIONS if (value := getattr(self, name))}
        out.update({f"split:{cluster}": n for cluster, n in self.split.items() if n})
        return out


_DECISIONS = tuple(name for name in RouteDecisions.__slots__ if name not in ("listener", "route", "split"))


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


class Registry:
    """All series of one sidecar, the policy-layer counters and states, and queued events."""

    def __init__(self, clock: Callable[[], float], max_events: int = 1000) -> None:
        self._clock = clock  # wall clock for event times
        self.routes: dict[RouteKey, Series] = {}
        self.endpoints: dict[EndpointKey, Series] = {}
        self.cluster_counters: dict[str, dict[str, int]] = {}
        self.cluster_states: dict[str, dict[str, str]] = {}
        self.cluster_gauges: dict[str, dict[str, int]] = {}  # current values, e.g. adaptive_limit
        self.endpoint_states: dict[EndpointKey, dict[str, str]] = {}
        self.events: deque[Event] = deque(maxlen=max_events)
        self.events_dropped = 0
        self.policy_version = ""
        self.unrouted: Callable[[], int] = lambda: 0
        self.transport_stats: Callable[[], Mapping[str, int]] = dict  # the transports' own gauges
        self.decisions: dict[tuple[str, str], RouteDecisions] = {}  # (listener, route) -> its decisions
        self._current: dict[tuple[str, str], RouteKey] = {}
        # Run before each window roll and /metrics render: they copy state other parts keep
        # (cluster breakers, ejections) into `pulled_cluster` / `pulled_endpoint` and the states.
        self.refreshers: list[Callable[[], None]] = []
        self.pulled_cluster: dict[str, dict[str, int]] = {}
        self.pulled_endpoint: dict[EndpointKey, dict[str, int]] = {}
        self.pulled_cache: dict[str, dict[str, int]] = {}  # cluster -> cache_<counter>
        self.security = SecurityView()  # copied in by runtime.security_watch (certificate, mTLS, JWKS, OAuth2)

    def refresh(self) -> None:
        for refresh in self.refreshers:
            refresh()

    def cluster_totals(self) -> dict[str, dict[str, int]]:
        """Cluster counters: those recorded with `count` plus those refreshers copied in (cluster mechanisms, cache)."""
        out = {k: dict(v) for k, v in self.cluster_counters.items()}
        for pulled in (self.pulled_cluster, self.pulled_cache):
            for cluster, counters in pulled.items():
                merged = out.setdefault(cluster, {})
                for name, n in counters.items():
                    merged[name] = merged.get(name, 0) + n
        return out

    def endpoint_counters(self, key: EndpointKey) -> dict[str, int]:
        counters = dict(self.endpoints[key].counters) if key in self.endpoints else {}
        for name, n in self.pulled_endpoint.get(key, {}).items():
            counters[name] = counters.get(name, 0) + n
        return counters

    def route_counters(self, key: RouteKey) -> dict[str, int]:
        """A route series' counters: its own plus the route's decisions (for its current series only)."""
        counters = dict(self.routes[key].counters)
        if self._current.get((key[0], key[1])) != key:
            return counters  # an older series of a route whose cluster changed
        decisions = self.decisions.get((key[0], key[1]))
        if decisions is not None:
            for name, n in decisions.totals().items():
                counters[name] = counters.get(name, 0) + n
        return counters

    def current_routes(self) -> list[tuple[RouteKey, Series]]:
        """Each (listener, route)'s current series (the one its stack records into), sorted."""
        return [(key, self.routes[key]) for _, key in sorted(self._current.items())]

    def route_decisions(self, listener: str, route: str) -> RouteDecisions:
        """The route's decision counters (created when its stack is built, kept across swaps)."""
        key = (listener, route)
        current = self.decisions.get(key)
        if current is None:
            current = self.decisions[key] = RouteDecisions(listener, route)
        return current

    # --- series (created when stacks are built, never on the data path) ----------------------

    def route(self, listener: str, route: str, cluster: str) -> Series:
        key = (listener, route, cluster)
        series = self.routes.get(key)
        if series is None:
            series = self.routes[key] = Series()
        self._current[(listener, route)] = key  # the route's decisions are reported on its current series
        return series

    def endpoint(self, cluster: str, address: str) -> Series:
        key = (cluster, address)
        series = self.endpoints.get(key)
        if series is None:
            series = self.endpoints[key] = Series()
        return series

    # --- direct recording (tests, events) ---------------------------------------------------------

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
