"""Active health-check decisions (sans-IO): when to check each endpoint, and what results mean.

An endpoint starts UNKNOWN (traffic flows), turns NOT_SERVING after `unhealthy_threshold`
failed checks in a row and SERVING again after `healthy_threshold` passed checks in a row.
The I/O (a grpc.health.v1 Check) lives in sidecar/transport/grpc_aio/health_probe.py and the loop
that drives it in sidecar/runtime/health_runner.py.
"""

from __future__ import annotations

import enum
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from sidecar.policy.cluster_model import HealthCheckPolicy

JITTER = 0.1  # spread checks by up to ±10% of the interval so endpoints are not probed in lockstep


class Health(enum.Enum):
    UNKNOWN = "unknown"
    SERVING = "serving"
    NOT_SERVING = "not_serving"


@dataclass(slots=True)
class EndpointHealth:
    next_check: float
    health: Health = Health.UNKNOWN
    passes: int = 0  # in a row
    fails: int = 0  # in a row
    checking: bool = False
    last_detail: str = ""
    counters: Counter[str] = field(default_factory=Counter)


class HealthTracker:
    name = "health"  # as listed in a cluster's stack (an endpoint filter of its balancer)

    def __init__(self, policy: HealthCheckPolicy, rng: random.Random) -> None:
        self.policy = policy
        self.rng = rng
        self.endpoints: dict[str, EndpointHealth] = {}
        self.counters: Counter[str] = Counter()
        self.down: set[str] = set()  # endpoints NOT_SERVING

    def unavailable(self) -> set[str] | frozenset[str]:
        """The endpoints the balancer must skip (none in shadow mode)."""
        return self.down if self.policy.enforced else frozenset()

    def configure(self, policy: HealthCheckPolicy) -> None:
        self.policy = policy

    def sync(self, addresses: Iterable[str], now: float) -> None:
        wanted = set(addresses)
        for gone in set(self.endpoints) - wanted:
            del self.endpoints[gone]
            self.down.discard(gone)
        for address in wanted - set(self.endpoints):
            # First check soon, spread over the first interval.
            self.endpoints[address] = EndpointHealth(
                next_check=now + self.rng.uniform(0, JITTER) * self.policy.interval
            )

    def admits(self, address: str) -> bool:
        """False only for an endpoint failing its checks, and only when enforced."""
        ep = self.endpoints.get(address)
        return ep is None or ep.health is not Health.NOT_SERVING or not self.policy.enforced

    def due(self, now: float) -> list[str]:
        """Endpoints to check now; each is marked as being checked until `record` is called."""
        due = []
        for address, ep in self.endpoints.items():
            if not ep.checking and ep.next_check <= now:
                ep.checking = True
                due.append(address)
        return due

    def record(self, address: str, passed: bool, now: float, detail: str = "") -> Health:
        """Fold in one check result; schedule the next check."""
        ep = self.endpoints.get(address)
        if ep is None:
            return Health.UNKNOWN
        ep.checking = False
        ep.last_detail = detail
        spread = 1.0 + self.rng.uniform(-JITTER, JITTER)
        ep.next_check = now + self.policy.interval * spread
        key = "checks_passed" if passed else "checks_failed"
        ep.counters[key] += 1
        self.counters[key] += 1
        prefix = "" if self.policy.enforced else "shadow_would_"
        if passed:
            ep.passes, ep.fails = ep.passes + 1, 0
            if ep.health is Health.UNKNOWN or (
                ep.health is Health.NOT_SERVING and ep.passes >= self.policy.healthy_threshold
            ):
                if ep.health is Health.NOT_SERVING:
                    self.counters[f"{prefix}marked_healthy"] += 1
                ep.health = Health.SERVING
                self.down.discard(address)
        else:
            ep.fails, ep.passes = ep.fails + 1, 0
            if ep.health is not Health.NOT_SERVING and ep.fails >= self.policy.unhealthy_threshold:
                ep.health = Health.NOT_SERVING
                self.down.add(address)
                ep.counters[f"{prefix}marked_unhealthy"] += 1
                self.counters[f"{prefix}marked_unhealthy"] += 1
        return ep.health
