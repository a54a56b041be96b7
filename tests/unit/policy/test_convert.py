"""Validation of policy pieces that YAML typing cannot catch."""

from __future__ import annotations

import pytest
from apex.mesh.v1 import config_pb2

from sidecar.policy import convert
from sidecar.policy.address import Address, parse_address
from sidecar.policy.errors import ConfigError
from sidecar.policy.model import HeaderRule, PathKind


def test_route_match_kinds() -> None:
    m = convert.route_match(config_pb2.RouteMatch(service="shop.Pricing", authority="Pricing"), "m")
    assert (m.path_kind, m.path, m.authority) == (PathKind.SERVICE, "shop.Pricing", "pricing")
    assert convert.route_match(config_pb2.RouteMatch(), "m").path_kind is PathKind.ANY


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"method": "shop.Pricing/Get"}, "m.method"),
        ({"method": "/shop.Pricing/"}, "m.method"),
        ({"prefix": "shop."}, "m.prefix"),
        ({"service": "shop/Pricing"}, "m.service"),
    ],
)
def test_bad_paths(kwargs: dict[str, str], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        convert.route_match(config_pb2.RouteMatch(**kwargs), "m")
    assert info.value.field == field


def test_header_rules() -> None:
    h = convert.header_match(config_pb2.HeaderMatch(name="x-canary", exact="true", invert=True), "h")
    assert (h.rule, h.value, h.invert) == (HeaderRule.EXACT, "true", True)
    with pytest.raises(ConfigError, match="lower-case"):
        convert.header_match(config_pb2.HeaderMatch(name="X-Canary", exact="1"), "h")
    with pytest.raises(ConfigError, match="one of exact, prefix or present"):
        convert.header_match(config_pb2.HeaderMatch(name="x"), "h")


def test_cluster_needs_endpoints_and_sane_weights() -> None:
    with pytest.raises(ConfigError) as info:
        convert.cluster(config_pb2.Cluster(name="c"), "policy.clusters[0]")
    assert info.value.field == "policy.clusters[0].endpoints"
    heavy = config_pb2.Cluster(name="c", endpoints=[config_pb2.Endpoint(address="10.0.0.1:80", weight=10**6)])
    with pytest.raises(ConfigError, match="above the maximum"):
        convert.cluster(heavy, "p")


def test_node_defaults() -> None:
    node = convert.node(config_pb2.Node())
    assert node.service == "default"
    assert node.instance.startswith("default-")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:80", Address("127.0.0.1", 80)), ("[::1]:443", Address("::1", 443)),
     ("catalog.default.svc:15006", Address("catalog.default.svc", 15006))],
)  # fmt: skip
def test_addresses(text: str, expected: Address) -> None:
    assert parse_address(text) == expected
    assert str(expected) == text
