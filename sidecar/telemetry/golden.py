"""Golden metrics (pure): telemetry windows of all instances -> one row per service, route, cluster or endpoint.

`apex stat`, `apex top` and `apex health` read windows from Redis and hand them here; nothing in
this module does I/O or reads a clock (`now` is passed in). Windows must be deduplicated on
(instance, sequence) first (sidecar.telemetry.reader.split does it): a window counted twice would
count its calls twice.

A window belongs to the time bucket holding its `window_start`. Rates are per second of the
bucket (calls / bucket length), so a bucket that is still running (the last one, up to `now`)
is divided by the seconds it has run so far. Latency quantiles come from the merged histograms
(apex.mesh.contract.histogram): within its stated relative error of the quantile of all the
calls merged, whichever instance served them.

Policy counters: route rows have their route's (retries, rate limits, retry budget, authn/authz);
service rows add those of the clusters their routes use (caps, adaptive limit, balancer, cache), which
windows keep per cluster; `--by cluster` rows have the cluster's. `rejections` counts every kind of
refusal the contract knows (apex.mesh.contract.refusals), `rejections_by_kind` splits it: an operator
asking "did the mesh refuse calls?" wants load shedding, retry-budget exhaustion, no endpoint and
authn/authz refusals alike, and the split says which.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from apex.mesh.contract import histogram, refusals
from apex.mesh.contract.histogram import Histogram
from apex.mesh.contract.refusals import Refusal
from apex.mesh.v1 import telemetry_pb2

By = Literal["service", "route", "method", "cluster", "endpoint"]
BY_CHOICES: tuple[By, ...] = ("service", "route", "method", "cluster", "endpoint")
KEY_COLUMNS: Mapping[By, tuple[str, ...]] = {
    "service": ("service", "listener"),
    "route": ("service", "listener", "route"),
    "method": ("service", "listener", "method"),
    "cluster": ("service", "cluster"),
    "endpoint": ("service", "cluster", "endpoint"),
}
# `rejections` sums every kind of refusal (apex.mesh.contract.refusals): an operator asking "did the mesh
# refuse calls?" wants load shedding, retry-budget exhaustion, no endpoint and authn/authz refusals alike,
# with the split by kind beside it (`rejections_by_kind`).
REJECTION_KINDS: frozenset[Refusal] = refusals.ALL
QUANTILES = (50.0, 95.0, 99.0)
MAX_FAILED = 5  # failed-call exemplars kept per row


def window_start(window: telemetry_pb2.TelemetryWindow) -> float:
    """Unix seconds at which `window` started."""
    return float(window.window_start.seconds + window.window_start.nanos / 1e9)


@dataclass(slots=True)
class Row:
    """The merged aggregates of one key over one time bucket."""

    key: tuple[str, ...]
    start: float
    seconds: float
    calls: int = 0
    errors: int = 0
    status_codes: dict[str, int] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    latency: Histogram = field(default_factory=Histogram)
    instances: set[str] = field(default_factory=set)
    slowest: telemetry_pb2.Exemplar | None = None  # the slowest sampled call (routes only)
    failed: list[telemetry_pb2.Exemplar] = field(default_factory=list)  # the latest failed sampled calls
    # Whether policy-layer counters (retries, rejections, cache) exist at this level: not per method.
    counted: bool = True

    def add_exemplars(self, slowest: telemetry_pb2.Exemplar | None, failed: Iterable[telemetry_pb2.Exemplar]) -> None:
        if slowest is not None and (self.slowest is None or slowest.seconds > self.slowest.seconds):
            self.slowest = slowest
        self.failed = [*self.failed, *failed][-MAX_FAILED:]

    def add(self, stats: telemetry_pb2.Aggregate, instance: str) -> None:
        self.calls += stats.calls
        self.errors += stats.errors
        for code, n in stats.status_codes.items():
            self.status_codes[code] = self.status_codes.get(code, 0) + n
        self.add_counters(stats.counters)
        if stats.latency.count:
            self.latency.merge(histogram.decode(stats.latency))
        self.instances.add(instance)

    def add_counters(self, counters: Mapping[str, int]) -> None:
        for name, n in counters.items():
            self.counters[name] = self.counters.get(name, 0) + n

    @property
    def rate(self) -> float:
        return self.calls / self.seconds if self.seconds > 0 else 0.0

    @property
    def success_rate(self) -> float | None:
        """Share of finished calls with status OK; None when no call finished."""
        return (self.calls - self.errors) / self.calls if self.calls else None

    @property
    def errors_by_code(self) -> dict[str, int]:
        return {code: n for code, n in sorted(self.status_codes.items()) if code != "OK" and n}

    @property
    def retries(self) -> int | None:
        """Retries of the row's calls; None where not counted (method rows)."""
        return self.counters.get("retries", 0) if self.counted else None

    @property
    def rejections(self) -> int | None:
        """Calls the mesh refused (REJECTION_KINDS); None where not counted (method rows)."""
        return refusals.refused(self.counters, REJECTION_KINDS) if self.counted else None

    @property
    def rejections_by_kind(self) -> dict[str, int] | None:
        """The rejections per kind (load_shed, retry_budget, no_endpoint, authn, authz); None for method rows."""
        if not self.counted:
            return None
        return {k.value: n for k, n in sorted(refusals.by_kind(self.counters).items(), key=lambda kv: kv[0].value)}

    @property
    def cache_hit_ratio(self) -> float | None:
        hits, misses = self.counters.get("cache_hits", 0), self.counters.get("cache_misses", 0)
        return hits / (hits + misses) if hits + misses else None

    def quantiles_ms(self) -> dict[str, float | None]:
        if not self.latency.count:
            return {f"p{q:g}": None for q in QUANTILES}
        got = self.latency.quantiles(QUANTILES)
        return {f"p{q:g}": round(got[q] * 1e3, 3) for q in QUANTILES}

    def as_dict(self, by: By) -> dict[str, Any]:
        """JSON-ready: numbers stay numbers (None where undefined: no calls, no cache use)."""
        success = self.success_rate
        ratio = self.cache_hit_ratio
        return {
            **dict(zip(KEY_COLUMNS[by], self.key, strict=True)),
            "start": self.start,
            "seconds": round(self.seconds, 3),
            "instances": len(self.instances),
            "calls": self.calls,
            "calls_per_second": round(self.rate, 3),
            "success_rate": None if success is None else round(success, 6),
            "latency_ms": self.quantiles_ms(),
            "errors": self.errors,
            "errors_by_code": self.errors_by_code,
            "retries": self.retries,
            "rejections": self.rejections,
            "rejections_by_kind": self.rejections_by_kind,
            "cache_hit_ratio": None if ratio is None else round(ratio, 6),
            "slowest": None if self.slowest is None else exemplar_dict(self.slowest),
            "failed": [exemplar_dict(e) for e in self.failed],
        }


def exemplar_dict(e: telemetry_pb2.Exemplar) -> dict[str, Any]:
    return {"trace_id": e.trace_id, "span_id": e.span_id, "method": e.method, "code": e.code,
            "latency_ms": round(e.seconds * 1e3, 3)}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Part:
    """One part of a window at a row level: its key, aggregate and sampled calls."""

    key: tuple[str, ...]
    stats: telemetry_pb2.Aggregate
    slowest: telemetry_pb2.Exemplar | None = None
    failed: tuple[telemetry_pb2.Exemplar, ...] = ()


def _parts(window: telemetry_pb2.TelemetryWindow, by: By) -> Iterable[Part]:
    """Each part of a window at the level `by`. Method rows come from the routes' per-method
    aggregates (windows of sidecars older than them have none), with the route's sampled calls of
    that method: its slowest call only when the route's slowest was of this method."""
    s = window.service
    if by in ("service", "route"):
        for r in window.routes:
            key = (s, r.listener) if by == "service" else (s, r.listener, r.route)
            yield Part(key, r.stats, r.slowest if r.HasField("slowest") else None, tuple(r.failed))
        return
    if by == "method":
        for r in window.routes:
            for m in r.methods:
                slowest = r.slowest if r.HasField("slowest") and r.slowest.method == m.method else None
                yield Part(
                    (s, r.listener, m.method), m.stats, slowest, tuple(e for e in r.failed if e.method == m.method)
                )
        return
    if by == "cluster":
        for c in window.clusters:
            yield Part((s, c.name), c.stats)
        return
    for e in window.endpoints:
        yield Part((s, e.cluster, e.address), e.stats)


def _listener_clusters(window: telemetry_pb2.TelemetryWindow) -> Iterable[tuple[tuple[str, ...], Mapping[str, int]]]:
    """(service, listener) and the counters of each cluster its routes use, once per cluster: what the
    cluster mechanisms counted for that listener's calls (caps, adaptive limit, balancer, cache), which
    windows keep on the cluster, not on the route."""
    used: dict[str, set[str]] = {}
    for r in window.routes:
        used.setdefault(r.listener, set()).add(r.cluster)
    clusters = {c.name: c.stats.counters for c in window.clusters}
    for listener in sorted(used):
        for name in sorted(used[listener]):
            if counters := clusters.get(name):
                yield (window.service, listener), counters


def rows(
    windows: Iterable[telemetry_pb2.TelemetryWindow],
    by: By,
    since: float,
    now: float,
    bucket: float | None = None,
) -> list[Row]:
    """Rows for windows that started in [since, now), one per key and bucket of `bucket` seconds (one
    bucket for the whole range when None), sorted by bucket then key."""
    if now <= since:
        raise ValueError(f"empty time range: since {since} is not before now {now}")
    step = bucket if bucket and bucket > 0 else now - since
    out: dict[tuple[int, tuple[str, ...]], Row] = {}
    for w in windows:
        t = window_start(w)
        if not since <= t < now:
            continue
        index = int((t - since) // step)
        start = since + index * step
        seconds = min(step, now - start)
        for part in _parts(w, by):
            row = out.get((index, part.key))
            if row is None:
                row = out[(index, part.key)] = Row(part.key, start, seconds, counted=by != "method")
            row.add(part.stats, w.instance)
            row.add_exemplars(part.slowest, part.failed)
        if by == "service":
            for key, counters in _listener_clusters(w):
                if (row := out.get((index, key))) is not None:
                    row.add_counters(counters)
    return [out[k] for k in sorted(out)]


@dataclass(slots=True)
class InstanceHealth:
    """One instance as its telemetry shows it: last window, calls and errors in the range, policy version."""

    service: str
    instance: str
    zone: str = ""
    last_seen: float = 0.0  # end of its newest window, unix seconds
    calls: int = 0
    errors: int = 0
    policy_version: str = ""
    windows: int = 0

    def as_dict(self, now: float) -> dict[str, Any]:
        return {
            "service": self.service,
            "instance": self.instance,
            "zone": self.zone,
            "seconds_since_heartbeat": round(max(0.0, now - self.last_seen), 3),
            "calls": self.calls,
            "errors": self.errors,
            "policy_version": self.policy_version,
            "windows": self.windows,
        }


def instance_health(windows: Iterable[telemetry_pb2.TelemetryWindow]) -> list[InstanceHealth]:
    """Per (service, instance): every window counts as a heartbeat (idle sidecars still publish one).
    Calls and errors are inbound and outbound routes summed; the policy version is the newest window's."""
    out: dict[tuple[str, str], InstanceHealth] = {}
    for w in windows:
        key = (w.service, w.instance)
        h = out.get(key)
        if h is None:
            h = out[key] = InstanceHealth(w.service, w.instance)
        end = window_start(w) + w.window.ToNanoseconds() / 1e9
        if end >= h.last_seen:
            h.last_seen = end
            h.policy_version = w.policy_version
            h.zone = w.zone
        h.calls += sum(r.stats.calls for r in w.routes)
        h.errors += sum(r.stats.errors for r in w.routes)
        h.windows += 1
    return [out[k] for k in sorted(out)]
