"""Validated conversion of a Cluster's resilience fields (10-29) into cluster_model dataclasses.

Called from `convert.cluster`; every problem raises ConfigError naming the exact field path,
e.g. `policy.clusters[0].outlier_detection.max_ejection_percent`.
"""

from __future__ import annotations

import math
from typing import Any

from apex.mesh.v1 import cluster_policy_pb2, config_pb2
from google.protobuf.message import Message

from sidecar.core.call import Code
from sidecar.policy.cluster_model import (
    DEFAULT_FAILURE_CODES,
    AdaptiveConcurrencyPolicy,
    BalancerKind,
    ConcurrencyLimits,
    FailurePercentagePolicy,
    HealthCheckPolicy,
    LoadBalancerPolicy,
    OutlierPolicy,
    SuccessRatePolicy,
)
from sidecar.policy.errors import ConfigError
from sidecar.policy.fields import positive_seconds

REJECT_CODES = (Code.UNAVAILABLE, Code.RESOURCE_EXHAUSTED)
MAX_CHOICES = 16


def _percent(msg: Message, name: str, default: float, path: str) -> float:
    if not msg.HasField(name):
        return default
    value = float(getattr(msg, name))
    if not math.isfinite(value) or not 0.0 <= value <= 100.0:
        raise ConfigError(f"{path}.{name}", f"a percentage is 0..100, got {value}")
    return value


def _count(msg: Message, name: str, default: int, path: str, *, minimum: int = 0, maximum: int = 1 << 31) -> int:
    if not msg.HasField(name):
        return default
    value = int(getattr(msg, name))
    if not minimum <= value <= maximum:
        raise ConfigError(f"{path}.{name}", f"must be in {minimum}..{maximum}, got {value}")
    return value


def _code(text: str, path: str) -> Code:
    try:
        return Code[text.strip().upper()]
    except KeyError:
        raise ConfigError(path, f"unknown status code {text!r} (expected a name like UNAVAILABLE)") from None


def load_balancer(msg: cluster_policy_pb2.LoadBalancer, path: str) -> LoadBalancerPolicy:
    kind = msg.WhichOneof("policy") or "round_robin"
    choice_count, decay, default_rtt = 2, 10.0, 0.030
    if kind == "least_request":
        lr = msg.least_request
        choice_count = lr.choice_count or 2
        if not 2 <= choice_count <= MAX_CHOICES:
            raise ConfigError(f"{path}.least_request.choice_count", f"must be in 2..{MAX_CHOICES}, got {choice_count}")
    elif kind == "peak_ewma":
        decay = positive_seconds(msg.peak_ewma, "decay", f"{path}.peak_ewma", decay)
        default_rtt = positive_seconds(msg.peak_ewma, "default_rtt", f"{path}.peak_ewma", default_rtt)
    return LoadBalancerPolicy(
        kind=BalancerKind(kind),
        panic_threshold=_percent(msg, "panic_threshold", 50.0, path),
        choice_count=choice_count,
        decay=decay,
        default_rtt=default_rtt,
    )


def limits(msg: cluster_policy_pb2.ConcurrencyLimits, path: str) -> ConcurrencyLimits:
    max_requests = _count(msg, "max_requests", -1, path, minimum=1)
    max_retries = _count(msg, "max_retries", -1, path)
    max_pending = _count(msg, "max_pending", 0, path)
    if max_pending and max_requests < 0:
        raise ConfigError(f"{path}.max_pending", "a queue needs max_requests: calls only wait for a request slot")
    reject = _code(msg.reject_code, f"{path}.reject_code") if msg.reject_code else Code.UNAVAILABLE
    if reject not in REJECT_CODES:
        raise ConfigError(f"{path}.reject_code", f"must be UNAVAILABLE or RESOURCE_EXHAUSTED, got {reject.name}")
    return ConcurrencyLimits(
        max_requests=None if max_requests < 0 else max_requests,
        max_pending=max_pending,
        max_retries=None if max_retries < 0 else max_retries,
        pending_timeout=positive_seconds(msg, "pending_timeout", path, 1.0),
        reject_code=reject,
        enforced=msg.enforced if msg.HasField("enforced") else True,
    )


def _fraction(msg: Message, name: str, default: float, path: str, low: float, high: float) -> float:
    if not msg.HasField(name):
        return default
    value = float(getattr(msg, name))
    if not math.isfinite(value) or not low <= value <= high:
        raise ConfigError(f"{path}.{name}", f"must be in {low}..{high}, got {value}")
    return value


def adaptive(msg: cluster_policy_pb2.AdaptiveConcurrency, path: str) -> AdaptiveConcurrencyPolicy:
    low = _count(msg, "min_limit", 1, path, minimum=1, maximum=1 << 20)
    high = _count(msg, "max_limit", max(1000, low), path, minimum=1, maximum=1 << 20)
    if high < low:
        raise ConfigError(f"{path}.max_limit", f"must be at least min_limit ({low}), got {high}")
    initial = _count(msg, "initial_limit", min(max(20, low), high), path, minimum=1, maximum=1 << 20)
    if not low <= initial <= high:
        raise ConfigError(f"{path}.initial_limit", f"must be in min_limit..max_limit ({low}..{high}), got {initial}")
    smoothing = _fraction(msg, "smoothing", 0.2, path, 0.0, 1.0)
    if smoothing == 0.0:
        raise ConfigError(f"{path}.smoothing", "must be above 0 (0 would never move the limit)")
    reject = _code(msg.reject_code, f"{path}.reject_code") if msg.reject_code else Code.RESOURCE_EXHAUSTED
    if reject not in REJECT_CODES:
        raise ConfigError(f"{path}.reject_code", f"must be RESOURCE_EXHAUSTED or UNAVAILABLE, got {reject.name}")
    return AdaptiveConcurrencyPolicy(
        min_limit=low,
        max_limit=high,
        initial_limit=initial,
        sample_window=positive_seconds(msg, "sample_window", path, 0.25),
        baseline_window=positive_seconds(msg, "baseline_window", path, 10.0),
        smoothing=smoothing,
        tolerance=_fraction(msg, "tolerance", 1.5, path, 1.0, 100.0),
        reject_code=reject,
        enforced=msg.enforced if msg.HasField("enforced") else True,
    )


def outlier(msg: cluster_policy_pb2.OutlierDetection, path: str) -> OutlierPolicy:
    base = positive_seconds(msg, "base_ejection_time", path, 30.0)
    cap = positive_seconds(msg, "max_ejection_time", path, max(300.0, base))
    if cap < base:
        raise ConfigError(f"{path}.max_ejection_time", f"must be at least base_ejection_time ({base}s), got {cap}s")
    interval = positive_seconds(msg, "interval", path, 1.0)
    window = positive_seconds(msg, "window", path, 10.0)
    if window < interval:
        raise ConfigError(f"{path}.window", f"must be at least interval ({interval}s), got {window}s")
    codes = frozenset(_code(c, f"{path}.failure_codes[{i}]") for i, c in enumerate(msg.failure_codes))
    if Code.OK in codes:
        raise ConfigError(f"{path}.failure_codes", "OK cannot count as a failure")
    success_rate = None
    if msg.HasField("success_rate"):
        sr, sp = msg.success_rate, f"{path}.success_rate"
        factor = float(sr.stdev_factor) if sr.HasField("stdev_factor") else 1.9
        if not math.isfinite(factor) or factor <= 0:
            raise ConfigError(f"{sp}.stdev_factor", f"must be a positive number, got {factor}")
        success_rate = SuccessRatePolicy(
            stdev_factor=factor,
            minimum_hosts=_count(sr, "minimum_hosts", 5, sp, minimum=1),
            request_volume=_count(sr, "request_volume", 100, sp, minimum=1),
        )
    failure_percentage = None
    if msg.HasField("failure_percentage"):
        fp, fpath = msg.failure_percentage, f"{path}.failure_percentage"
        failure_percentage = FailurePercentagePolicy(
            threshold=_percent(fp, "threshold", 85.0, fpath),
            minimum_hosts=_count(fp, "minimum_hosts", 5, fpath, minimum=1),
            request_volume=_count(fp, "request_volume", 50, fpath, minimum=1),
        )
    return OutlierPolicy(
        consecutive_failures=_count(msg, "consecutive_failures", 5, path),
        interval=interval,
        window=window,
        base_ejection_time=base,
        max_ejection_time=cap,
        max_ejection_percent=_percent(msg, "max_ejection_percent", 10.0, path),
        half_open_probes=_count(msg, "half_open_probes", 1, path, minimum=1, maximum=1000),
        success_rate=success_rate,
        failure_percentage=failure_percentage,
        failure_codes=codes or DEFAULT_FAILURE_CODES,
        connect_failures=msg.connect_failures if msg.HasField("connect_failures") else True,
        enforced=msg.enforced if msg.HasField("enforced") else True,
    )


def health_check(msg: cluster_policy_pb2.HealthCheck, path: str) -> HealthCheckPolicy:
    interval = positive_seconds(msg, "interval", path, 5.0)
    timeout = positive_seconds(msg, "timeout", path, min(1.0, interval))
    if timeout > interval:
        raise ConfigError(f"{path}.timeout", f"must not exceed interval ({interval}s), got {timeout}s")
    return HealthCheckPolicy(
        interval=interval,
        timeout=timeout,
        unhealthy_threshold=_count(msg, "unhealthy_threshold", 2, path, minimum=1, maximum=1000),
        healthy_threshold=_count(msg, "healthy_threshold", 1, path, minimum=1, maximum=1000),
        service=msg.service,
        enforced=msg.enforced if msg.HasField("enforced") else True,
    )


def resilience(msg: config_pb2.Cluster, path: str) -> dict[str, Any]:
    """Keyword arguments for `model.Cluster` from fields 10-29 of a Cluster message."""
    fields: dict[str, Any] = {}
    if msg.HasField("load_balancer"):
        fields["load_balancer"] = load_balancer(msg.load_balancer, f"{path}.load_balancer")
    if msg.HasField("limits"):
        fields["limits"] = limits(msg.limits, f"{path}.limits")
    if msg.HasField("outlier_detection"):
        fields["outlier"] = outlier(msg.outlier_detection, f"{path}.outlier_detection")
    if msg.HasField("adaptive_concurrency"):
        fields["adaptive"] = adaptive(msg.adaptive_concurrency, f"{path}.adaptive_concurrency")
    if msg.HasField("health_check"):
        fields["health_check"] = health_check(msg.health_check, f"{path}.health_check")
    return fields
