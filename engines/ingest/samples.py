"""One second of one service (or route) from telemetry windows, merged over instances (pure).

A `Sample` sums what the instances' windows say about their inbound routes: calls, errors,
rejections (counters of the kinds in REJECTION_KINDS, classified by apex.mesh.contract.refusals:
a route's own, and for the service also those of the clusters its routes use, where caps and the
adaptive limit count; load shedding only: the forecaster's capacity model looks for the load at
which the mesh starts shedding, and bad credentials, refused retries or an empty cluster are not
that), cache hits and misses (`*cache_hit*` / `*cache_miss*` counters; the cache layer counts them on
the cluster, so the service's come from the clusters its routes use, like its rejections), in-flight
calls at the window's end, calls started (arrivals: the load offered, where `calls` counts the
calls finished, which a saturated service caps) and the latency histograms merged through the
shared codec. `Seconds`
buckets samples by second and closes a second once `lag` seconds have passed, so a slower
instance's window still counts; windows are deduplicated on (instance, sequence) so one read twice
counts once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import NamedTuple

from apex.mesh.contract import histogram, refusals
from apex.mesh.contract.histogram import Histogram
from apex.mesh.contract.refusals import Refusal
from apex.mesh.v1 import telemetry_pb2

from engines.ingest.seen import Seen

# The forecaster's capacity model looks for the load at which the mesh starts shedding it: caps, the
# adaptive limit and rate limits (LOAD_SHED). Not authn/authz refusals (bad credentials are not load),
# not retry-budget exhaustion (a refused retry, not a refused call) nor no endpoint (an outage). Status
# codes are not counted: RESOURCE_EXHAUSTED from the rate limit is already `rate_limited` (it was counted
# twice), caps answer UNAVAILABLE by default (they were missed), and an application's own
# RESOURCE_EXHAUSTED answers are errors, in the error rate.
REJECTION_KINDS: frozenset[Refusal] = frozenset({Refusal.LOAD_SHED})
ROUTE_SEP = "/"  # series key of a route: "service/listener:route"
CLUSTER_SEP = "#"  # series key of an upstream cluster as the service sees it: "service#cluster"


@dataclass(slots=True)
class Sample:
    calls: float = 0.0
    errors: float = 0.0
    rejections: float = 0.0
    cache_hits: float = 0.0
    cache_misses: float = 0.0
    in_flight: float = 0.0
    latency: Histogram = field(default_factory=Histogram)
    started: float = 0.0  # calls started (arrived) in the window; 0 from producers that do not report it

    def add(self, other: Sample) -> None:
        self.calls += other.calls
        self.errors += other.errors
        self.rejections += other.rejections
        self.cache_hits += other.cache_hits
        self.cache_misses += other.cache_misses
        self.in_flight += other.in_flight
        self.started += other.started
        self.latency = accumulate(self.latency, other.latency)


def accumulate(total: Histogram, other: Histogram) -> Histogram:
    """`total` with `other` added: merged in place when the layouts agree (the common case, no copy), else a
    new histogram in the coarser layout; a copy of `other` when `total` is empty (it is never aliased)."""
    if not other.count:
        return total
    if not total.count:
        return other.copy()
    if total.layout == other.layout:
        total.merge(other)
        return total
    return histogram.merge([total, other])


def _stats_sample(stats: telemetry_pb2.Aggregate) -> Sample:
    rejections = float(refusals.refused(stats.counters, REJECTION_KINDS))
    hits = misses = 0.0
    for name, n in stats.counters.items():
        low = name.lower()
        if "cache_hit" in low:
            hits += n
        elif "cache_miss" in low:
            misses += n
    latency = histogram.decode(stats.latency) if stats.latency.count else Histogram()
    return Sample(float(stats.calls), float(stats.errors), rejections, hits, misses, float(stats.in_flight), latency,
                  float(stats.started))  # fmt: skip


def route_key(service: str, listener: str, route: str) -> str:
    return f"{service}{ROUTE_SEP}{listener}:{route}"


def window_samples(window: telemetry_pb2.TelemetryWindow, listeners: frozenset[str]) -> dict[str, Sample]:
    """Series key -> this window's sample: the service (all its routes on `listeners`, plus the rejections
    and cache hits/misses counted on the clusters those routes use), each route and each cluster."""
    total = Sample()
    out: dict[str, Sample] = {window.service: total}
    used: set[str] = set()
    for r in window.routes:
        if r.listener not in listeners:
            continue
        s = _stats_sample(r.stats)
        key = route_key(window.service, r.listener, r.route)
        if key in out:
            out[key].add(s)
        else:
            out[key] = replace(s, latency=s.latency.copy())  # its own histogram: later ones merge into it
        total.add(s)
        used.add(r.cluster)
    for c in window.clusters:
        out[cluster_key(window.service, c.name)] = _stats_sample(c.stats)
        if c.name in used:  # shed or served from the cache on the way to the service's routes: theirs too
            cluster = out[cluster_key(window.service, c.name)]
            total.rejections += cluster.rejections
            total.cache_hits += cluster.cache_hits
            total.cache_misses += cluster.cache_misses
    return out


def cluster_key(service: str, cluster: str) -> str:
    return f"{service}{CLUSTER_SEP}{cluster}"


def service_of(key: str) -> str:
    """The service a series key belongs to."""
    return key.split(ROUTE_SEP, 1)[0].split(CLUSTER_SEP, 1)[0]


class Closed(NamedTuple):
    key: str
    second: int
    sample: Sample


@dataclass
class _Open:
    open: dict[int, Sample] = field(default_factory=dict)
    next_second: int | None = None


class Seconds:
    """Samples bucketed by second per series key; `close(now)` hands out finished seconds in order."""

    def __init__(self, lag: float = 3.0, dedupe: int = 100_000) -> None:
        self.lag = lag
        self._keys: dict[str, _Open] = {}
        self._seen = Seen(dedupe)
        self.late = 0

    @property
    def duplicates(self) -> int:
        return self._seen.duplicates

    def seen(self, service: str, instance: str, sequence: int) -> bool:
        """Record a window; True when it was already counted (a redelivered entry)."""
        return self._seen.again(service, instance, sequence)

    def add(self, key: str, second: int, sample: Sample) -> None:
        s = self._keys.setdefault(key, _Open())
        if s.next_second is not None and second < s.next_second:
            self.late += 1
            return
        if second in s.open:
            s.open[second].add(sample)
        else:
            s.open[second] = sample
        if s.next_second is None:
            s.next_second = second

    def resume(self, key: str, next_second: int) -> None:
        """Continue a key's seconds after `next_second - 1` (a restored snapshot's last closed second)."""
        s = self._keys.setdefault(key, _Open())
        if s.next_second is None or s.next_second < next_second:
            for second in [t for t in s.open if t < next_second]:
                del s.open[second]
            s.next_second = next_second

    def close(self, now: float, max_gap: int = 3600) -> list[Closed]:
        """Every second older than `now - lag` per key, in order; gaps are empty samples (at most
        `max_gap` of them: a longer silence skips ahead)."""
        out: list[Closed] = []
        limit = int(now - self.lag)
        for key, s in sorted(self._keys.items()):
            if s.next_second is None:
                continue
            if limit - s.next_second > max_gap:
                s.next_second = limit - max_gap
                for second in [t for t in s.open if t < s.next_second]:
                    del s.open[second]
            while s.next_second < limit:
                out.append(Closed(key, s.next_second, s.open.pop(s.next_second, Sample())))
                s.next_second += 1
        return out
