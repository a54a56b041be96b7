"""The state of one cluster that survives policy swaps: endpoint loads, balancer, caps, ejection, health."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Sequence

from sidecar.core.call import Status
from sidecar.discovery.endpoints import Resolved
from sidecar.layers.balance.least_request import LeastRequest
from sidecar.layers.balance.load import EndpointLoad, PeakEwma
from sidecar.layers.balance.peak_ewma import PeakEwmaBalancer
from sidecar.layers.balance.select import Balancer, candidates
from sidecar.layers.balance.weighted import SmoothWeighted
from sidecar.layers.limits.admission import Admission
from sidecar.layers.limits.caps import UNLIMITED
from sidecar.layers.limits.gradient import GradientLimit
from sidecar.layers.outlier.detector import OutlierDetector
from sidecar.layers.outlier.health import HealthTracker
from sidecar.policy.cluster_model import BalancerKind, LoadBalancerPolicy
from sidecar.policy.model import Cluster


def make_balancer(policy: LoadBalancerPolicy, rng: random.Random) -> Balancer:
    if policy.kind is BalancerKind.LEAST_REQUEST:
        return LeastRequest(rng, policy.choice_count)
    if policy.kind is BalancerKind.PEAK_EWMA:
        return PeakEwmaBalancer(rng)
    return SmoothWeighted()


class ClusterRuntime:
    """Everything a cluster learns while it runs; `configure` swaps the policy and keeps the state.

    Endpoint loads (in-flight, EWMA), ejections and health results carry over a policy swap;
    a policy that drops outlier detection or health checks drops their state (all readmitted).
    """

    def __init__(
        self, cluster: Cluster, clock: Callable[[], float] = time.monotonic, rng: random.Random | None = None
    ) -> None:
        self.name = cluster.name
        self.clock = clock
        self.rng = rng or random.Random()
        self.loads: dict[str, EndpointLoad] = {}
        self.counters: Counter[str] = Counter()
        self.admission = Admission(cluster.name)
        self.adaptive: GradientLimit | None = None
        self.outlier: OutlierDetector | None = None
        self.health: HealthTracker | None = None
        self.panic = False
        self._synced: tuple[Resolved, ...] | None = None
        self._pool: tuple[EndpointLoad, ...] = ()
        self.cluster = cluster
        self.balancer: Balancer = make_balancer(cluster.load_balancer, self.rng)
        self.configure(cluster)

    def configure(self, cluster: Cluster) -> None:
        now = self.clock()
        old = self.cluster
        self.cluster = cluster
        if cluster.load_balancer != old.load_balancer:
            self.balancer = make_balancer(cluster.load_balancer, self.rng)
            for load in self.loads.values():
                load.ewma.decay = cluster.load_balancer.decay
        self.admission.configure(cluster.limits or UNLIMITED)
        if cluster.adaptive is None:
            self.adaptive = None
        elif self.adaptive is None:
            self.adaptive = GradientLimit(cluster.adaptive, now)
        else:
            self.adaptive.configure(cluster.adaptive)
        if cluster.outlier is None:
            self.outlier = None
        elif self.outlier is None:
            self.outlier = OutlierDetector(cluster.outlier, now)
            self.outlier.sync(self.loads, now)
        else:
            self.outlier.configure(cluster.outlier)
        if cluster.health_check is None:
            self.health = None
        elif self.health is None:
            self.health = HealthTracker(cluster.health_check, self.rng)
            self.health.sync(self.loads, now)
        else:
            self.health.configure(cluster.health_check)

    def sync(self, endpoints: Sequence[Resolved], now: float) -> None:
        """Follow the cluster's current endpoint set (cheap when it has not changed)."""
        if endpoints is self._synced:
            return
        self._synced = tuple(endpoints)
        lb = self.cluster.load_balancer
        fresh: dict[str, EndpointLoad] = {}
        for ep in endpoints:
            load = self.loads.get(ep.address) or EndpointLoad(
                ep.address, ep.weight, PeakEwma(lb.default_rtt, lb.decay, now)
            )
            load.weight = ep.weight
            fresh[ep.address] = load
        self.loads = fresh  # calls in flight to a dropped endpoint keep their own reference
        self._pool = tuple(fresh.values())
        if self.outlier is not None:
            self.outlier.sync(fresh, now)
        if self.health is not None:
            self.health.sync(fresh, now)

    def available(self, address: str, now: float) -> bool:
        """Neither ejected nor failing health checks (shadow mode never excludes)."""
        if self.outlier is not None and not self.outlier.admits(address, now):
            return False
        return self.health is None or self.health.admits(address)

    def pick(self, now: float) -> tuple[EndpointLoad | None, bool]:
        """(the endpoint for the next call, whether the call is a half-open probe)."""
        pool: Sequence[EndpointLoad] = self._pool
        self.panic = False
        if self.outlier is not None or self.health is not None:
            out = self.outlier.unavailable(now) if self.outlier is not None else frozenset()
            sick = self.health.unavailable() if self.health is not None else frozenset()
            if out or sick:  # the common case (everyone available) skips the filtering
                pool, self.panic = candidates(
                    self._pool,
                    lambda ld: ld.address not in out and ld.address not in sick,
                    self.cluster.load_balancer.panic_threshold,
                )
                if self.panic:
                    self.counters["panic_picks"] += 1
        chosen = self.balancer.pick(pool, now)
        if chosen is None:
            return None, False
        probe = self.outlier is not None and self.outlier.on_pick(chosen.address, now)
        return chosen, probe

    def record(self, address: str, status: Status, now: float, probe: bool) -> None:
        if self.outlier is not None:
            self.outlier.record(address, status, now, probe)

    def healthy(self, now: float | None = None) -> bool:
        """At least one endpoint is neither ejected nor failing its health checks."""
        at = self.clock() if now is None else now
        return any(self.available(address, at) for address in self.loads)

    # --- counters, under the one naming scheme (docs/observability.md) ---------------------------

    def counter_totals(self) -> dict[str, int]:
        """Non-zero counters named `<mechanism>_<counter>`: balancer_, caps_, adaptive_, outlier_, health_."""
        out = {f"balancer_{k}": n for k, n in self.counters.items() if n}
        out.update({f"caps_{k}": n for k, n in self.admission.caps.counters.items() if n})
        if self.adaptive is not None:
            out.update({f"adaptive_{k}": n for k, n in self.adaptive.counters.items() if n})
        if self.outlier is not None:
            out.update({f"outlier_{k}": n for k, n in self.outlier.counters.items() if n})
        if self.health is not None:
            out.update({f"health_{k}": n for k, n in self.health.counters.items() if n})
        return out

    def gauges(self) -> dict[str, int]:
        """Current values (not counts, so never diffed into windows): adaptive_limit, adaptive_in_flight."""
        if self.adaptive is None:
            return {}
        return {"adaptive_limit": self.adaptive.current, "adaptive_in_flight": self.adaptive.in_flight}

    def endpoint_counter_totals(self, address: str) -> dict[str, int]:
        """One endpoint's non-zero counters, named as the cluster's: outlier_, health_."""
        out: dict[str, int] = {}
        if self.outlier is not None and (ep := self.outlier.endpoints.get(address)) is not None:
            out.update({f"outlier_{k}": n for k, n in ep.counters.items() if n})
        if self.health is not None and (checked := self.health.endpoints.get(address)) is not None:
            out.update({f"health_{k}": n for k, n in checked.counters.items() if n})
        return out
