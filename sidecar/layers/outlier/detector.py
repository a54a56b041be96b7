"""Passive outlier ejection per endpoint with half-open probing (Envoy outlier_detection, sans-IO).

State machine of one endpoint (every transition takes `now`; nothing runs on a timer):

    ACTIVE --(consecutive failures | success-rate outlier | failure-percentage outlier,
              and fewer than max_ejection_percent of endpoints out)--> EJECTED
    EJECTED --(ejection time over)--> HALF_OPEN  (gate limited to `half_open_probes` permits)
    HALF_OPEN --(all probes succeed)--> ACTIVE   (readmitted)
    HALF_OPEN --(a probe fails)--> EJECTED       (again, for longer)

Ejection time = base_ejection_time x multiplier (capped at max_ejection_time); the multiplier
grows by one per ejection and shrinks by one per base_ejection_time spent ACTIVE.
In shadow mode (`enforced: false`) the same machine runs and counts, but the gate stays open.
"""

from __future__ import annotations

import enum
import math
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from sidecar.core.call import Code, Status
from sidecar.layers.outlier.gate import Gate
from sidecar.layers.outlier.window import RollingCounts
from sidecar.policy.cluster_model import OutlierPolicy

# Details of the statuses gRPC (and our connector) give when no connection could be made.
CONNECT_FAILURE_HINTS = ("failed to connect", "connection refused", "could not connect", "connect failed")


class Outcome(enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    NEUTRAL = "neutral"  # cancelled: says nothing about the endpoint


class State(enum.Enum):
    ACTIVE = "active"
    EJECTED = "ejected"
    HALF_OPEN = "half_open"


def is_connect_failure(status: Status) -> bool:
    if status.code is not Code.UNAVAILABLE:
        return False
    details = status.details.lower()
    return any(hint in details for hint in CONNECT_FAILURE_HINTS)


def classify(status: Status, policy: OutlierPolicy) -> Outcome:
    if status.code in policy.failure_codes:
        return Outcome.FAILURE
    if policy.connect_failures and is_connect_failure(status):
        return Outcome.FAILURE
    if status.code is Code.CANCELLED:
        return Outcome.NEUTRAL
    return Outcome.SUCCESS


@dataclass(slots=True)
class EndpointOutlier:
    """The detector's record of one endpoint."""

    window: RollingCounts
    since: float  # when the current state (or multiplier level) began
    address: str = ""
    gate: Gate = field(default_factory=Gate)
    state: State = State.ACTIVE
    consecutive: int = 0
    multiplier: int = 0
    times_ejected: int = 0
    ejected_until: float = 0.0
    probe_successes: int = 0
    probes_out: int = 0  # probe calls in flight (enforced) / probe verdicts pending
    counters: Counter[str] = field(default_factory=Counter)


class OutlierDetector:
    """The controller: reads call outcomes per endpoint and flips each endpoint's gate."""

    name = "outlier"  # as listed in a cluster's stack (an endpoint filter of its balancer)

    def __init__(self, policy: OutlierPolicy, now: float) -> None:
        self.policy = policy
        self.endpoints: dict[str, EndpointOutlier] = {}
        self.counters: Counter[str] = Counter()
        self.shut: set[str] = set()  # endpoints whose gate admits no call now (kept in step with the gates)
        self._wake_at = math.inf  # the earliest end of an ejection
        self._next_sweep = now + policy.interval

    # --- configuration and membership ---------------------------------------------------------

    def configure(self, policy: OutlierPolicy) -> None:
        """Swap thresholds, keeping every endpoint's state (windows restart if their shape changed)."""
        if (policy.window, policy.interval) != (self.policy.window, self.policy.interval):
            for ep in self.endpoints.values():
                ep.window = RollingCounts(policy.window, policy.interval)
        self.policy = policy

    def sync(self, addresses: Iterable[str], now: float) -> None:
        """Track exactly `addresses` (the cluster's current endpoints)."""
        wanted = set(addresses)
        for gone in set(self.endpoints) - wanted:
            del self.endpoints[gone]
            self.shut.discard(gone)
        for address in wanted - set(self.endpoints):
            window = RollingCounts(self.policy.window, self.policy.interval)
            self.endpoints[address] = EndpointOutlier(window, now, address)

    def unavailable(self, now: float) -> set[str] | frozenset[str]:
        """The endpoints the balancer must skip now (none in shadow mode); O(1) unless an ejection ended."""
        if not self.policy.enforced:
            return frozenset()
        if now >= self._wake_at:
            for ep in self.endpoints.values():
                self._advance(ep, now)
            self._wake_at = min(
                (ep.ejected_until for ep in self.endpoints.values() if ep.state is State.EJECTED), default=math.inf
            )
        return self.shut

    def _gate_changed(self, ep: EndpointOutlier) -> None:
        if ep.gate.admits():
            self.shut.discard(ep.address)
        else:
            self.shut.add(ep.address)

    # --- the data path ------------------------------------------------------------------------

    def admits(self, address: str, now: float) -> bool:
        """May the balancer pick this endpoint now? Always true in shadow mode."""
        ep = self.endpoints.get(address)
        if ep is None:
            return True
        self._advance(ep, now)
        return ep.gate.admits() or not self.policy.enforced

    def on_pick(self, address: str, now: float) -> bool:
        """The balancer picked `address`; return True when the call is a half-open probe."""
        ep = self.endpoints.get(address)
        if ep is None:
            return False
        self._advance(ep, now)
        if ep.state is not State.HALF_OPEN:
            return False
        if self.policy.enforced:
            if not ep.gate.admits():
                return False  # picked in panic mode: not a probe
            ep.gate.acquire()
            self._gate_changed(ep)
        ep.probes_out += 1
        ep.counters["probes"] += 1
        return True

    def record(self, address: str, status: Status, now: float, probe: bool) -> Outcome:
        """Fold in the outcome of one call to `address` that started as a probe or not."""
        outcome = classify(status, self.policy)
        ep = self.endpoints.get(address)
        if ep is None:
            return outcome
        self._advance(ep, now)
        if probe:
            ep.probes_out = max(ep.probes_out - 1, 0)
        if outcome is not Outcome.NEUTRAL:
            ep.counters["successes" if outcome is Outcome.SUCCESS else "failures"] += 1
        if ep.state is State.ACTIVE and not probe:
            self._record_active(ep, outcome, now)
        elif ep.state is State.HALF_OPEN and probe:
            self._record_probe(ep, outcome, now)
        self.tick(now)
        return outcome

    def _record_active(self, ep: EndpointOutlier, outcome: Outcome, now: float) -> None:
        if outcome is Outcome.NEUTRAL:
            return
        if self.policy.success_rate is not None or self.policy.failure_percentage is not None:
            ep.window.add(outcome is Outcome.SUCCESS, now)  # only the window detectors read it
        if outcome is Outcome.SUCCESS:
            ep.consecutive = 0
            return
        ep.consecutive += 1
        limit = self.policy.consecutive_failures
        if limit and ep.consecutive >= limit:
            self._eject(ep, now, "consecutive_failures")

    def _record_probe(self, ep: EndpointOutlier, outcome: Outcome, now: float) -> None:
        if outcome is Outcome.NEUTRAL:
            ep.gate.give_back()
            self._gate_changed(ep)
            return
        if outcome is Outcome.FAILURE:
            ep.counters["probe_failures"] += 1
            self._eject(ep, now, "probe_failed", force=True)
            return
        ep.probe_successes += 1
        if ep.probe_successes >= self.policy.half_open_probes:
            self._readmit(ep, now)

    # --- transitions --------------------------------------------------------------------------

    def ejected_count(self) -> int:
        return sum(1 for ep in self.endpoints.values() if ep.state is not State.ACTIVE)

    def _ejection_allowed(self) -> bool:
        pct = self.policy.max_ejection_percent
        if pct <= 0:
            return False
        allowed = max(1, math.floor(len(self.endpoints) * pct / 100.0 + 1e-9))
        return self.ejected_count() < allowed

    def _eject(self, ep: EndpointOutlier, now: float, reason: str, force: bool = False) -> None:
        """Eject `ep`; `force` re-ejects a half-open endpoint (it is already counted as out)."""
        prefix = "" if self.policy.enforced else "shadow_would_"
        if not force and not self._ejection_allowed():
            self.counters[f"{prefix}eject_skipped_max_percent"] += 1
            return
        self._decay_multiplier(ep, now)
        ep.multiplier += 1
        ep.times_ejected += 1
        duration = min(self.policy.base_ejection_time * ep.multiplier, self.policy.max_ejection_time)
        ep.state, ep.since, ep.ejected_until = State.EJECTED, now, now + duration
        ep.consecutive = 0
        ep.probe_successes = 0
        ep.window.clear()
        ep.gate.shut()
        self._gate_changed(ep)
        self._wake_at = min(self._wake_at, ep.ejected_until)
        ep.counters[f"{prefix}ejections"] += 1
        self.counters[f"{prefix}ejections"] += 1
        self.counters[f"{prefix}ejections_{reason}"] += 1

    def _readmit(self, ep: EndpointOutlier, now: float) -> None:
        prefix = "" if self.policy.enforced else "shadow_would_"
        ep.state, ep.since = State.ACTIVE, now
        ep.consecutive = 0
        ep.probe_successes = 0
        ep.gate.open()
        self._gate_changed(ep)
        ep.counters[f"{prefix}readmissions"] += 1
        self.counters[f"{prefix}readmissions"] += 1

    def _advance(self, ep: EndpointOutlier, now: float) -> None:
        """EJECTED → HALF_OPEN once the ejection time is over."""
        if ep.state is State.EJECTED and now >= ep.ejected_until:
            ep.state, ep.since = State.HALF_OPEN, now
            ep.probe_successes = 0
            ep.probes_out = 0
            ep.gate.limit(self.policy.half_open_probes)
            self._gate_changed(ep)
            self.counters["half_opened"] += 1

    def _decay_multiplier(self, ep: EndpointOutlier, now: float) -> None:
        """One step down per full base_ejection_time spent ACTIVE since the last change."""
        if ep.state is not State.ACTIVE or ep.multiplier == 0:
            return
        steps = int((now - ep.since) // self.policy.base_ejection_time)
        if steps > 0:
            ep.multiplier = max(ep.multiplier - steps, 0)
            ep.since += steps * self.policy.base_ejection_time

    # --- periodic detectors -------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Run the window detectors if an interval has passed (cheap to call on every event)."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.policy.interval
        for ep in self.endpoints.values():
            self._advance(ep, now)
            self._decay_multiplier(ep, now)
        self._success_rate(now)
        self._failure_percentage(now)

    def _judged(self, volume: int, now: float) -> list[tuple[EndpointOutlier, float]]:
        """(endpoint, success fraction) of ACTIVE endpoints with at least `volume` calls in the window."""
        judged = []
        for ep in self.endpoints.values():
            if ep.state is State.ACTIVE:
                ok, bad = ep.window.totals(now)
                if ok + bad >= volume:
                    judged.append((ep, ok / (ok + bad)))
        return judged

    def _success_rate(self, now: float) -> None:
        policy = self.policy.success_rate
        if policy is None:
            return
        judged = self._judged(policy.request_volume, now)
        if len(judged) < max(policy.minimum_hosts, 2):
            return
        rates = [rate for _, rate in judged]
        threshold = statistics.fmean(rates) - policy.stdev_factor * statistics.pstdev(rates)
        for ep, rate in judged:
            if rate < threshold and ep.state is State.ACTIVE:
                self._eject(ep, now, "success_rate")

    def _failure_percentage(self, now: float) -> None:
        policy = self.policy.failure_percentage
        if policy is None:
            return
        judged = self._judged(policy.request_volume, now)
        if len(judged) < policy.minimum_hosts:
            return
        for ep, rate in judged:
            if 100.0 * (1.0 - rate) >= policy.threshold and ep.state is State.ACTIVE:
                self._eject(ep, now, "failure_percentage")

    # --- queries ------------------------------------------------------------------------------

    def state(self, address: str, now: float) -> EndpointOutlier | None:
        ep = self.endpoints.get(address)
        if ep is not None:
            self._advance(ep, now)
        return ep
