"""Validation of the cache config: rules (Policy.cache) and bounds (Bootstrap.cache)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from apex.mesh.v1 import config_pb2

from sidecar.config.bootstrap import parse_yaml, validate
from sidecar.policy.cache_model import CacheMatch
from sidecar.policy.errors import ConfigError

BASE = """
listeners: [{name: in, address: "127.0.0.1:0", direction: INBOUND}]
policy:
  route_tables: [{name: in, routes: [{name: all, cluster: c}]}]
  clusters: [{name: c, endpoints: [{address: "127.0.0.1:1"}]}]
"""


def load(extra: dict[str, Any]) -> Any:
    data = yaml.safe_load(BASE)
    for key, value in extra.items():
        if key == "cache_rules":
            data["policy"]["cache"] = value
        else:
            data[key] = value
    return validate(parse_yaml(yaml.safe_dump(data), "test.yaml"), "test.yaml")


def error(extra: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(extra)
    return info.value


def test_full_rule_and_bounds() -> None:
    model = load(
        {
            "cache": {"max_entries": 500, "max_bytes": 1_000_000, "max_entry_bytes": 10_000},
            "cache_rules": [
                {
                    "method": "/demo.Catalog/Get",
                    "ttl": "30s",
                    "vary": ["authorization", "x-tenant"],
                    "stale_while_revalidate": "10s",
                    "stale_if_error": "5m",
                    "listeners": ["in"],
                    "enforced": False,
                },
                {"service": "demo.Prices", "ttl": "250ms"},
            ],
        }
    )
    get, prices = model.policy.cache
    assert (get.match, get.path, get.ttl) == (CacheMatch.METHOD, "/demo.Catalog/Get", 30.0)
    assert get.vary == ("authorization", "x-tenant") and get.listeners == ("in",)
    assert (get.stale_while_revalidate, get.stale_if_error, get.enforced) == (10.0, 300.0, False)
    assert prices.name == "service:demo.Prices" and prices.enforced and prices.matches("/demo.Prices/Quote")
    assert not prices.matches("/demo.PricesX/Quote")
    assert (model.cache.max_entries, model.cache.max_bytes, model.cache.max_entry_bytes) == (500, 1_000_000, 10_000)


def test_defaults() -> None:
    model = load({})
    assert model.policy.cache == ()
    assert model.cache.max_entries == 10_000 and model.cache.max_bytes == 64 << 20


@pytest.mark.parametrize(
    ("rules", "field", "reason"),
    [
        ([{"ttl": "1s"}], "policy.cache[0]", "one of method, service or prefix"),
        ([{"method": "Get", "ttl": "1s"}], "policy.cache[0].method", "expected '/package.Service/Method'"),
        ([{"prefix": "demo", "ttl": "1s"}], "policy.cache[0].prefix", "starts with '/'"),
        ([{"service": "a/b", "ttl": "1s"}], "policy.cache[0].service", "gRPC service name"),
        ([{"method": "/a.B/C"}], "policy.cache[0].ttl", "ttl is required"),
        ([{"method": "/a.B/C", "ttl": "0s"}], "policy.cache[0].ttl", "must be positive"),
        ([{"method": "/a.B/C", "ttl": "1s", "vary": ["X-Tenant"]}], "policy.cache[0].vary[0]", "lower-case"),
        ([{"method": "/a.B/C", "ttl": "1s", "vary": ["a", "a"]}], "policy.cache[0].vary[1]", "duplicate"),
        (
            [{"method": "/a.B/C", "ttl": "1s"}, {"name": "method:/a.B/C", "service": "a.B", "ttl": "1s"}],
            "policy.cache[1].name",
            "duplicate cache rule name",
        ),
        ([{"method": "/a.B/C", "ttl": "1s", "listeners": [""]}], "policy.cache[0].listeners[0]", "empty"),
    ],
)
def test_bad_rules_name_the_field(rules: list[dict[str, Any]], field: str, reason: str) -> None:
    err = error({"cache_rules": rules})
    assert err.field == field and reason in err.reason and err.source == "test.yaml"


def test_negative_stale_window_from_a_push() -> None:
    from sidecar.policy import convert

    msg = config_pb2.Policy()
    rule = msg.cache.add(method="/a.B/C")
    rule.ttl.seconds = 1
    rule.stale_if_error.seconds = -5
    with pytest.raises(ConfigError) as info:
        convert.policy(msg)
    assert info.value.field == "policy.cache[0].stale_if_error"


def test_bad_bounds() -> None:
    err = error({"cache": {"max_bytes": 1000, "max_entry_bytes": 5000}})
    assert err.field == "cache.max_entry_bytes" and "above max_bytes" in err.reason
    err = error({"cache": {"max_entries": -1}})
    assert err.field == "cache.max_entries"
