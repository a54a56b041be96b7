"""Validation of route policy fields: good configs become the model, bad ones name the field."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.config.bootstrap import parse_yaml, validate
from sidecar.core.call import Code
from sidecar.policy.errors import ConfigError
from sidecar.policy.route_model import ClusterOverride, RetryBudget


def _config(route: dict[str, Any], defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    policy: dict[str, Any] = {
        "route_tables": [{"name": "out", "routes": [{"name": "r", **route}]}],
        "clusters": [{"name": n, "endpoints": [{"address": "127.0.0.1:1"}]} for n in ("v1", "v2", "v3")],
    }
    if defaults is not None:
        policy["route_defaults"] = defaults
    return {"listeners": [{"name": "out", "address": "127.0.0.1:0", "direction": "OUTBOUND"}], "policy": policy}


def _load(route: dict[str, Any], defaults: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    import yaml

    message = parse_yaml(yaml.safe_dump(_config(route, defaults)), "test.yaml")
    return validate(message, "test.yaml").policy


def _error(route: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        _load(route)
    return info.value


ROUTE = "policy.route_tables[0].routes[0]"


def test_single_cluster_route_has_no_policy() -> None:
    policy = _load({"cluster": "v1"})
    route = policy.route_tables[0].routes[0]
    assert route.cluster == "v1"
    assert route.policy.split is None and route.policy.retry is None and route.policy.timeout is None
    assert policy.random_seed is None


def test_full_route_policy() -> None:
    policy = _load(
        {
            "clusters": [{"cluster": "v1", "weight": 90}, {"cluster": "v2", "weight": 10}],
            "overrides": [{"header": "x-canary", "exact": "true", "cluster": "v2"}],
            "fallback_cluster": "v3",
            "timeout": "2s",
            "retry": {
                "max_attempts": 3,
                "retry_on": ["unavailable", "RESOURCE_EXHAUSTED"],
                "backoff_base": "10ms",
                "backoff_max": "1s",
                "per_try_timeout": "300ms",
                "idempotent_methods": ["Get*"],
                "budget": {"retry_percent": 25, "min_retries_per_second": 2, "ttl": "5s", "enforced": False},
            },
            "rate_limit": {"requests_per_second": 50, "per_header": "x-caller"},
            "fault": {"delay": {"percent": 5, "duration": "100ms"}, "abort": {"percent": 1, "code": "INTERNAL"}},
        },
        {"random_seed": 42},
    )
    assert policy.random_seed == 42
    route = policy.route_tables[0].routes[0]
    rp = route.policy
    assert route.cluster == "v1"
    assert rp.split is not None and rp.split.clusters == (("v1", 90), ("v2", 10))
    assert rp.split.overrides == (ClusterOverride("x-canary", "true", "v2"),)
    assert rp.split.fallback == "v3" and rp.split.names == ("v1", "v2", "v3")
    assert rp.timeout == 2.0
    assert rp.retry is not None
    assert rp.retry.retry_on == {Code.UNAVAILABLE, Code.RESOURCE_EXHAUSTED}
    assert (rp.retry.backoff_base, rp.retry.backoff_max, rp.retry.per_try_timeout) == (0.01, 1.0, 0.3)
    assert rp.retry.budget == RetryBudget(ratio=0.25, min_per_second=2.0, ttl=5.0, enforced=False)
    assert rp.rate_limit is not None and rp.rate_limit.burst == 50 and rp.rate_limit.enforced
    assert rp.fault is not None and rp.fault.abort is not None and rp.fault.abort.code is Code.INTERNAL


def test_defaults() -> None:
    rp = _load({"cluster": "v1", "retry": {"idempotent_methods": ["*"]}, "fallback_cluster": "v2"}).route_tables[0]
    policy = rp.routes[0].policy
    assert policy.retry is not None and policy.retry.max_attempts == 2
    assert policy.retry.retry_on == {Code.UNAVAILABLE} and policy.retry.budget == RetryBudget()
    assert policy.split is not None and policy.split.clusters == (("v1", 1),) and policy.split.fallback == "v2"


@pytest.mark.parametrize(
    ("route", "field", "reason"),
    [
        ({}, f"{ROUTE}.cluster", "cluster is required"),
        ({"cluster": "v1", "clusters": [{"cluster": "v2", "weight": 1}]}, f"{ROUTE}.clusters", "not both"),
        ({"clusters": [{"cluster": "nope", "weight": 1}]}, f"{ROUTE}.clusters[0].cluster", "unknown cluster"),
        (
            {"clusters": [{"cluster": "v1", "weight": 1}, {"cluster": "v1", "weight": 2}]},
            f"{ROUTE}.clusters[1].cluster",
            "listed twice",
        ),
        ({"clusters": [{"cluster": "v1", "weight": 0}]}, f"{ROUTE}.clusters", "positive weight"),
        ({"clusters": [{"cluster": "v1", "weight": 20000}]}, f"{ROUTE}.clusters[0].weight", "above"),
        (
            {"cluster": "v1", "overrides": [{"header": "X-Canary", "exact": "1", "cluster": "v2"}]},
            f"{ROUTE}.overrides[0].header",
            "lower-case",
        ),
        ({"cluster": "v1", "overrides": [{"header": "x", "cluster": "v2"}]}, f"{ROUTE}.overrides[0]", "exact or"),
        (
            {"cluster": "v1", "overrides": [{"header": "x", "present": True, "cluster": "v9"}]},
            f"{ROUTE}.overrides[0].cluster",
            "unknown cluster",
        ),
        ({"cluster": "v1", "fallback_cluster": "v9"}, f"{ROUTE}.fallback_cluster", "unknown cluster"),
        ({"cluster": "v1", "timeout": "0s"}, f"{ROUTE}.timeout", "positive"),
        ({"cluster": "v1", "retry": {}}, f"{ROUTE}.retry.idempotent_methods", "retry nothing"),
        (
            {"cluster": "v1", "retry": {"retry_non_idempotent": True, "max_attempts": 11}},
            f"{ROUTE}.retry.max_attempts",
            "at most 10",
        ),
        (
            {"cluster": "v1", "retry": {"retry_non_idempotent": True, "retry_on": ["UNAVAILABLE", "BOGUS"]}},
            f"{ROUTE}.retry.retry_on[1]",
            "status name",
        ),
        (
            {"cluster": "v1", "retry": {"retry_non_idempotent": True, "retry_on": ["OK"]}},
            f"{ROUTE}.retry.retry_on[0]",
            "non-OK",
        ),
        (
            {"cluster": "v1", "retry": {"retry_non_idempotent": True, "backoff_base": "1s", "backoff_max": "10ms"}},
            f"{ROUTE}.retry.backoff_max",
            "at least backoff_base",
        ),
        (
            {"cluster": "v1", "retry": {"idempotent_methods": ["/bad/path/x"]}},
            f"{ROUTE}.retry.idempotent_methods[0]",
            "expected",
        ),
        (
            {"cluster": "v1", "retry": {"retry_non_idempotent": True, "budget": {"retry_percent": 120}}},
            f"{ROUTE}.retry.budget.retry_percent",
            "0..100",
        ),
        (
            {"cluster": "v1", "retry": {"retry_non_idempotent": True, "budget": {"min_retries_per_second": -1}}},
            f"{ROUTE}.retry.budget.min_retries_per_second",
            "0 or more",
        ),
        (
            {"cluster": "v1", "retry": {"retry_non_idempotent": True, "budget": {"ttl": "120s"}}},
            f"{ROUTE}.retry.budget.ttl",
            "between 1s and 60s",
        ),
        ({"cluster": "v1", "rate_limit": {}}, f"{ROUTE}.rate_limit.requests_per_second", "positive"),
        (
            {"cluster": "v1", "rate_limit": {"requests_per_second": 1, "per_header": "X"}},
            f"{ROUTE}.rate_limit.per_header",
            "lower-case",
        ),
        ({"cluster": "v1", "fault": {"delay": {"percent": 5}}}, f"{ROUTE}.fault.delay.duration", "needs a duration"),
        (
            {"cluster": "v1", "fault": {"abort": {"percent": 101, "code": "INTERNAL"}}},
            f"{ROUTE}.fault.abort.percent",
            "0..100",
        ),
        ({"cluster": "v1", "fault": {"abort": {"percent": 1}}}, f"{ROUTE}.fault.abort.code", "status name"),
    ],
)
def test_bad_route_policy_names_the_field(route: dict[str, Any], field: str, reason: str) -> None:
    error = _error(route)
    assert error.field == field, str(error)
    assert reason in error.reason
    assert error.source == "test.yaml"
