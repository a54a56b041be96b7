"""The tuner's view of telemetry (pure): each window's figures, grouped by service and second, as Observations.

`stats(window, listeners, slo)` reads one instance's window: calls started and ended on the
tuned listeners' routes, errors, timeouts (DEADLINE_EXCEEDED), retries (route counter), mesh
rejections (route and cluster counters of the kinds in REJECTION_KINDS, classified by
apex.mesh.contract.refusals: load shedding, retry-budget exhaustion and no endpoint, what the tuned
limits, budgets and ejection thresholds cause; not authn/authz refusals, which are not the tuner's to
fix and must not read as overload), cache hits and stale answers (`cache_stale_*`), in-flight calls,
ejected endpoints, and the merged latency histogram. A window does not say which calls were slow
*and* OK, so "good" (OK within the SLO) is estimated as: calls at or under the SLO (from the
histogram), less the errors other than timeouts (errors are assumed fast, timeouts slow), clamped
to [0, ok].

`Seconds` buckets windows by (service, second), deduplicated on (instance, sequence), and hands
out a second once `lag` seconds have passed. `observe(parts, ...)` sums a second's windows (all
instances, or one group of them: the canary's or the control's) into an engine Observation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from apex.mesh.contract import histogram, refusals
from apex.mesh.contract.histogram import Histogram
from apex.mesh.contract.refusals import Refusal
from apex.mesh.v1 import telemetry_pb2

from engines.ingest.samples import accumulate
from engines.ingest.seen import Seen
from engines.tune.sim import Observation

# What the tuner's knobs cause and its reward should penalise: load shedding (caps, adaptive limit, rate
# limits: the limits it tunes), retry-budget exhaustion (budgets) and no endpoint (ejection thresholds
# that empty a cluster). Not authn/authz refusals: security policy is not the tuner's to change, and a
# burst of bad tokens must not read as overload (it would loosen limits to "fix" it).
REJECTION_KINDS: frozenset[Refusal] = frozenset({Refusal.LOAD_SHED, Refusal.RETRY_BUDGET, Refusal.NO_ENDPOINT})
STALE_COUNTERS = ("cache_stale_while_revalidate", "cache_stale_if_error")


def is_rejection(counter: str) -> bool:
    return refusals.kind(counter) in REJECTION_KINDS


@dataclass(slots=True)
class Stats:
    """One instance's window on the tuned listeners (or the sum of several)."""

    started: int = 0
    calls: int = 0
    errors: int = 0
    good: int = 0
    rejected: int = 0
    timeouts: int = 0
    retries: int = 0
    cache_hits: int = 0
    stale: int = 0
    inflight: int = 0
    ejected: int = 0
    latency: Histogram = field(default_factory=Histogram)

    def add(self, o: Stats) -> None:
        self.started += o.started
        self.calls += o.calls
        self.errors += o.errors
        self.good += o.good
        self.rejected += o.rejected
        self.timeouts += o.timeouts
        self.retries += o.retries
        self.cache_hits += o.cache_hits
        self.stale += o.stale
        self.inflight += o.inflight
        self.ejected += o.ejected
        self.latency = accumulate(self.latency, o.latency)


def stats(window: telemetry_pb2.TelemetryWindow, listeners: frozenset[str], slo: float) -> Stats:
    s = Stats()
    parts: list[Histogram] = []
    clusters: set[str] = set()
    for r in window.routes:
        if r.listener not in listeners:
            continue
        clusters.add(r.cluster)
        a = r.stats
        s.started += a.started
        s.calls += a.calls
        s.errors += a.errors
        s.timeouts += a.status_codes.get("DEADLINE_EXCEEDED", 0)
        s.inflight += a.in_flight
        for name, n in a.counters.items():
            if name == "retries":
                s.retries += n
            elif is_rejection(name):
                s.rejected += n
        if a.latency.count:
            parts.append(histogram.decode(a.latency))
    for c in window.clusters:
        if c.name not in clusters:
            continue  # another listener's upstream (e.g. the outbound side)
        for name, n in c.stats.counters.items():
            if is_rejection(name):
                s.rejected += n
            elif name == "cache_hits":
                s.cache_hits += n
            elif name in STALE_COUNTERS:
                s.stale += n
    s.ejected = sum(1 for e in window.endpoints if e.cluster in clusters and e.states.get("outlier") == "ejected")
    if parts:
        s.latency = histogram.merge(parts)
    s.good = good(s.latency, s.calls, s.errors, s.timeouts, slo)
    return s


def good(latency: Histogram, calls: int, errors: int, timeouts: int, slo: float) -> int:
    """Calls OK within the SLO, estimated (see the module docstring)."""
    ok = max(calls - errors, 0)
    if not latency.count:
        return ok
    within = latency.cumulative([slo])[0]
    return int(min(max(within - max(errors - timeouts, 0), 0), ok))


def observe(parts: Iterable[Stats], t: float, slo: float, interval: float = 1.0) -> Observation:
    """The engine's Observation of one interval from the windows in it (summed)."""
    total = Stats()
    for p in parts:
        total.add(p)
    h = total.latency
    q = h.quantiles((50.0, 99.0)) if h.count else {50.0: 0.0, 99.0: 0.0}
    offered = max(total.started, total.calls)
    return Observation(
        t=t, interval=interval, offered=offered, calls=total.calls, ok=max(total.calls - total.errors, 0),
        good=total.good, errors=total.errors, rejected=total.rejected, timeouts=total.timeouts,
        retries=total.retries, p50=q[50.0], p99=q[99.0], inflight=total.inflight, cache_hits=total.cache_hits,
        stale=total.stale, ejected=total.ejected, histogram=h, slo=slo,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Part:
    instance: str
    version: str  # the policy version the instance ran in this window
    stats: Stats


class Seconds:
    """Windows bucketed by (service, second); `close(now)` returns the seconds older than now - lag."""

    def __init__(self, lag: float = 2.0, dedupe: int = 100_000) -> None:
        self.lag = lag
        self.open: dict[str, dict[int, list[Part]]] = {}
        self.next_second: dict[str, int] = {}
        self._seen = Seen(dedupe)
        self.late = 0

    @property
    def duplicates(self) -> int:
        return self._seen.duplicates

    def add(self, service: str, second: int, sequence: int, part: Part) -> bool:
        """Count a window; False when it was seen before or its second has already closed."""
        if self._seen.again(service, part.instance, sequence):
            return False
        if second < self.next_second.get(service, second):
            self.late += 1
            return False
        self.open.setdefault(service, {}).setdefault(second, []).append(part)
        self.next_second.setdefault(service, second)
        return True

    def resume(self, service: str, next_second: int) -> None:
        """Seconds before `next_second` were already counted (a restored model): ignore their windows."""
        if self.next_second.get(service, -1) < next_second:
            self.next_second[service] = next_second
            buckets = self.open.get(service, {})
            for second in [s for s in buckets if s < next_second]:
                del buckets[second]

    def close(self, now: float) -> list[tuple[str, int, list[Part]]]:
        """(service, second, windows) of each finished second, in order; a silent second is an empty list."""
        out: list[tuple[str, int, list[Part]]] = []
        limit = int(now - self.lag)
        for service in sorted(self.open):
            nxt = self.next_second[service]
            nxt = max(nxt, limit - 60)  # a long silence skips ahead (at most a minute of empty seconds)
            buckets = self.open[service]
            while nxt < limit:
                out.append((service, nxt, buckets.pop(nxt, [])))
                nxt += 1
            for second in [s for s in buckets if s < nxt]:
                del buckets[second]
            self.next_second[service] = nxt
        return out
