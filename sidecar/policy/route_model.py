"""Frozen dataclasses for route-level policy: traffic split, timeout, retries, rate limit, faults."""

from __future__ import annotations

from dataclasses import dataclass, field

from sidecar.core.call import Code
from sidecar.policy.oauth2_model import OAuth2


@dataclass(frozen=True, slots=True)
class ClusterOverride:
    """Calls whose `header` equals `value` (or is present, when `value` is None) go to `cluster`."""

    header: str
    value: str | None
    cluster: str


@dataclass(frozen=True, slots=True)
class Split:
    """Weighted clusters of a route, header overrides and the fallback cluster."""

    clusters: tuple[tuple[str, int], ...]  # (cluster, weight) in config order
    overrides: tuple[ClusterOverride, ...] = ()
    fallback: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        extra = tuple(o.cluster for o in self.overrides) + ((self.fallback,) if self.fallback else ())
        return tuple(dict.fromkeys((*(c for c, _ in self.clusters), *extra)))


@dataclass(frozen=True, slots=True)
class RetryBudget:
    """Retries allowed in any `ttl` window: ratio * requests + min_per_second * ttl."""

    ratio: float = 0.2
    min_per_second: float = 10.0
    ttl: float = 10.0
    enforced: bool = True


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 2
    retry_on: frozenset[Code] = frozenset({Code.UNAVAILABLE})
    backoff_base: float = 0.025
    backoff_max: float = 0.25
    per_try_timeout: float | None = None
    idempotent_methods: tuple[str, ...] = ()
    retry_non_idempotent: bool = False
    budget: RetryBudget = field(default_factory=RetryBudget)


@dataclass(frozen=True, slots=True)
class RateLimit:
    rate: float  # tokens per second
    burst: int
    per_header: str = ""
    max_callers: int = 10_000
    enforced: bool = True


@dataclass(frozen=True, slots=True)
class FaultDelay:
    percent: float
    duration: float


@dataclass(frozen=True, slots=True)
class FaultAbort:
    percent: float
    code: Code


@dataclass(frozen=True, slots=True)
class Fault:
    delay: FaultDelay | None = None
    abort: FaultAbort | None = None


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    """Everything a route may add beyond its cluster; every part is off when None."""

    split: Split | None = None
    timeout: float | None = None
    retry: RetryPolicy | None = None
    rate_limit: RateLimit | None = None
    fault: Fault | None = None
    oauth2: OAuth2 | None = None  # outbound client-credentials tokens (docs/security.md)
