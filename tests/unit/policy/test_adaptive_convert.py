"""Adaptive concurrency config: YAML → protobuf → model, with errors naming the exact field."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.core.call import Code
from sidecar.policy.cluster_model import AdaptiveConcurrencyPolicy
from tests.unit.policy.test_cluster_convert import cluster, error


def test_defaults_and_full_config() -> None:
    assert cluster().adaptive is None
    assert cluster(adaptive_concurrency={}).adaptive == AdaptiveConcurrencyPolicy()
    assert AdaptiveConcurrencyPolicy().reject_code is Code.RESOURCE_EXHAUSTED
    c = cluster(
        adaptive_concurrency={
            "min_limit": 2,
            "max_limit": 64,
            "initial_limit": 8,
            "sample_window": "100ms",
            "baseline_window": "5s",
            "smoothing": 0.5,
            "tolerance": 2.0,
            "reject_code": "unavailable",
            "enforced": False,
        }
    )
    assert c.adaptive == AdaptiveConcurrencyPolicy(2, 64, 8, 0.1, 5.0, 0.5, 2.0, Code.UNAVAILABLE, False)


@pytest.mark.parametrize(
    ("fields", "path", "reason"),
    [
        ({"min_limit": 0}, "min_limit", "must be in 1.."),
        ({"min_limit": 10, "max_limit": 5}, "max_limit", "at least min_limit (10)"),
        ({"max_limit": 5, "initial_limit": 6}, "initial_limit", "min_limit..max_limit"),
        ({"smoothing": 0}, "smoothing", "above 0"),
        ({"smoothing": 1.5}, "smoothing", "0.0..1.0"),
        ({"smoothing": float("nan")}, "smoothing", "0.0..1.0"),
        ({"tolerance": 0.5}, "tolerance", "1.0..100.0"),
        ({"sample_window": "0s"}, "sample_window", "must be positive"),
        ({"reject_code": "INTERNAL"}, "reject_code", "RESOURCE_EXHAUSTED or UNAVAILABLE"),
        ({"reject_code": "NOPE"}, "reject_code", "unknown status code"),
    ],
)
def test_bad_values_name_the_field(fields: dict[str, Any], path: str, reason: str) -> None:
    err = error(adaptive_concurrency=fields)
    assert err.field == f"policy.clusters[0].adaptive_concurrency.{path}" and reason in err.reason, err
