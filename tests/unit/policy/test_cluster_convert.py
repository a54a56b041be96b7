"""Cluster resilience config: YAML → protobuf → model, with errors naming the exact field."""

from __future__ import annotations

from typing import Any

import pytest
from apex.mesh.v1 import config_pb2

from sidecar.config.yaml_proto import fill
from sidecar.core.call import Code
from sidecar.policy import convert
from sidecar.policy.cluster_model import DEFAULT_FAILURE_CODES, BalancerKind, ConcurrencyLimits
from sidecar.policy.errors import ConfigError
from sidecar.policy.model import Cluster


def cluster(**fields: Any) -> Cluster:
    data = {"name": "echo", "endpoints": [{"address": "127.0.0.1:1", "weight": 3}], **fields}
    msg = fill(config_pb2.Cluster(), data, "policy.clusters[0]")
    assert isinstance(msg, config_pb2.Cluster)
    return convert.cluster(msg, "policy.clusters[0]")


def error(**fields: Any) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        cluster(**fields)
    return info.value


def test_defaults_without_resilience_config() -> None:
    c = cluster()
    assert c.load_balancer.kind is BalancerKind.ROUND_ROBIN and c.load_balancer.panic_threshold == 50.0
    assert c.limits is None and c.outlier is None and c.health_check is None


def test_full_config_converts() -> None:
    c = cluster(
        load_balancer={"peak_ewma": {"decay": "5s", "default_rtt": "10ms"}, "panic_threshold": 30},
        limits={
            "max_requests": 100,
            "max_pending": 10,
            "max_retries": 3,
            "pending_timeout": "250ms",
            "reject_code": "resource_exhausted",
            "enforced": False,
        },
        outlier_detection={
            "consecutive_failures": 3,
            "interval": "500ms",
            "window": "5s",
            "base_ejection_time": "2s",
            "max_ejection_time": "20s",
            "max_ejection_percent": 34,
            "half_open_probes": 2,
            "success_rate": {"stdev_factor": 1.5},
            "failure_percentage": {"threshold": 60},
            "failure_codes": ["INTERNAL", "unavailable"],
            "connect_failures": False,
        },
        health_check={"interval": "2s", "timeout": "500ms", "unhealthy_threshold": 3, "service": "echo"},
    )
    assert c.load_balancer.kind is BalancerKind.PEAK_EWMA and c.load_balancer.decay == 5.0
    assert c.load_balancer.default_rtt == pytest.approx(0.01) and c.load_balancer.panic_threshold == 30
    assert c.limits == ConcurrencyLimits(100, 10, 3, 0.25, Code.RESOURCE_EXHAUSTED, enforced=False)
    o = c.outlier
    assert o is not None and o.consecutive_failures == 3 and o.interval == 0.5 and o.half_open_probes == 2
    assert o.failure_codes == {Code.INTERNAL, Code.UNAVAILABLE} and not o.connect_failures and o.enforced
    assert o.success_rate is not None and o.success_rate.stdev_factor == 1.5 and o.success_rate.minimum_hosts == 5
    assert o.failure_percentage is not None and o.failure_percentage.threshold == 60
    h = c.health_check
    assert h is not None and (h.interval, h.timeout, h.unhealthy_threshold, h.healthy_threshold) == (2, 0.5, 3, 1)


def test_outlier_defaults() -> None:
    o = cluster(outlier_detection={}).outlier
    assert o is not None and o.consecutive_failures == 5 and o.failure_codes == DEFAULT_FAILURE_CODES
    assert (o.base_ejection_time, o.max_ejection_time, o.max_ejection_percent) == (30.0, 300.0, 10.0)
    assert o.success_rate is None and o.failure_percentage is None and o.connect_failures and o.enforced


@pytest.mark.parametrize(
    ("fields", "path", "reason"),
    [
        ({"load_balancer": {"panic_threshold": 120}}, "load_balancer.panic_threshold", "0..100"),
        ({"load_balancer": {"least_request": {"choice_count": 1}}}, "load_balancer.least_request.choice_count", "2.."),
        ({"load_balancer": {"peak_ewma": {"decay": "0s"}}}, "load_balancer.peak_ewma.decay", "positive"),
        ({"limits": {"max_requests": 0}}, "limits.max_requests", "1.."),
        ({"limits": {"max_pending": 5}}, "limits.max_pending", "needs max_requests"),
        ({"limits": {"reject_code": "NOT_FOUND"}}, "limits.reject_code", "UNAVAILABLE or RESOURCE_EXHAUSTED"),
        ({"limits": {"reject_code": "NOPE"}}, "limits.reject_code", "unknown status code"),
        ({"outlier_detection": {"max_ejection_percent": -1}}, "outlier_detection.max_ejection_percent", "0..100"),
        ({"outlier_detection": {"failure_codes": ["OK"]}}, "outlier_detection.failure_codes", "OK cannot"),
        ({"outlier_detection": {"failure_codes": ["X"]}}, "outlier_detection.failure_codes[0]", "unknown status"),
        (
            {"outlier_detection": {"base_ejection_time": "10s", "max_ejection_time": "5s"}},
            "outlier_detection.max_ejection_time",
            "at least base_ejection_time",
        ),
        ({"outlier_detection": {"interval": "5s", "window": "1s"}}, "outlier_detection.window", "at least interval"),
        ({"outlier_detection": {"half_open_probes": 0}}, "outlier_detection.half_open_probes", "1.."),
        (
            {"outlier_detection": {"success_rate": {"stdev_factor": 0}}},
            "outlier_detection.success_rate.stdev_factor",
            "positive",
        ),
        (
            {"outlier_detection": {"failure_percentage": {"request_volume": 0}}},
            "outlier_detection.failure_percentage.request_volume",
            "1..",
        ),
        ({"health_check": {"interval": "1s", "timeout": "2s"}}, "health_check.timeout", "must not exceed interval"),
        ({"health_check": {"unhealthy_threshold": 0}}, "health_check.unhealthy_threshold", "1.."),
    ],
)
def test_errors_name_the_field(fields: dict[str, Any], path: str, reason: str) -> None:
    err = error(**fields)
    assert err.field == f"policy.clusters[0].{path}"
    assert reason in err.reason


def test_unknown_yaml_field_is_named() -> None:
    err = error(limits={"max_request": 1})
    assert err.field == "policy.clusters[0].limits.max_request"


def test_empty_mapping_selects_a_policy_with_defaults() -> None:
    lb = cluster(load_balancer={"least_request": {}}).load_balancer
    assert lb.kind is BalancerKind.LEAST_REQUEST and lb.choice_count == 2
