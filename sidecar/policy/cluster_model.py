"""Frozen dataclasses for a cluster's resilience policy: balancing, caps, ejection, health checks."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sidecar.core.call import Code

DEFAULT_FAILURE_CODES = frozenset({Code.UNAVAILABLE, Code.INTERNAL, Code.UNKNOWN, Code.DEADLINE_EXCEEDED})


class BalancerKind(enum.Enum):
    ROUND_ROBIN = "round_robin"  # smooth weighted round robin
    LEAST_REQUEST = "least_request"  # power of n choices on in-flight / weight
    PEAK_EWMA = "peak_ewma"  # P2C on peak-EWMA latency x (in-flight + 1)


@dataclass(frozen=True, slots=True)
class LoadBalancerPolicy:
    kind: BalancerKind = BalancerKind.ROUND_ROBIN
    panic_threshold: float = 50.0  # percent of endpoints that must be healthy to skip the others
    choice_count: int = 2  # least_request
    decay: float = 10.0  # peak_ewma: seconds
    default_rtt: float = 0.030  # peak_ewma: seconds


@dataclass(frozen=True, slots=True)
class ConcurrencyLimits:
    max_requests: int | None = None
    max_pending: int = 0
    max_retries: int | None = None
    pending_timeout: float = 1.0
    reject_code: Code = Code.UNAVAILABLE
    enforced: bool = True


@dataclass(frozen=True, slots=True)
class AdaptiveConcurrencyPolicy:
    """A latency-driven concurrency limit (layers/limits/adaptive.py; docs/cluster-resilience.md)."""

    min_limit: int = 1
    max_limit: int = 1000
    initial_limit: int = 20
    sample_window: float = 0.25  # seconds of samples averaged into one short-window RTT
    baseline_window: float = 10.0  # seconds: time constant of the baseline RTT's rise (it falls at once)
    smoothing: float = 0.2  # weight of each new limit estimate (0 < s <= 1)
    tolerance: float = 1.5  # short RTT up to tolerance x baseline is not queueing
    reject_code: Code = Code.RESOURCE_EXHAUSTED
    enforced: bool = True  # False: shadow mode, count would-be rejections only


@dataclass(frozen=True, slots=True)
class SuccessRatePolicy:
    stdev_factor: float = 1.9
    minimum_hosts: int = 5
    request_volume: int = 100


@dataclass(frozen=True, slots=True)
class FailurePercentagePolicy:
    threshold: float = 85.0
    minimum_hosts: int = 5
    request_volume: int = 50


@dataclass(frozen=True, slots=True)
class OutlierPolicy:
    consecutive_failures: int = 5  # 0 = detector off
    interval: float = 1.0
    window: float = 10.0
    base_ejection_time: float = 30.0
    max_ejection_time: float = 300.0
    max_ejection_percent: float = 10.0
    half_open_probes: int = 1
    success_rate: SuccessRatePolicy | None = None
    failure_percentage: FailurePercentagePolicy | None = None
    failure_codes: frozenset[Code] = DEFAULT_FAILURE_CODES
    connect_failures: bool = True
    enforced: bool = True


@dataclass(frozen=True, slots=True)
class HealthCheckPolicy:
    interval: float = 5.0
    timeout: float = 1.0
    unhealthy_threshold: int = 2
    healthy_threshold: int = 1
    service: str = ""
    enforced: bool = True
