"""Patching one field of a policy by path."""

from __future__ import annotations

import pytest
from apex.mesh.v1 import config_pb2

from engines.control.patch import PatchError, apply


def policy() -> config_pb2.Policy:
    msg = config_pb2.Policy()
    msg.route_tables.add(name="inbound").routes.add(name="local", cluster="local")
    msg.clusters.add(name="local").endpoints.add(address="127.0.0.1:80")
    return msg


def test_scalars_durations_by_name_and_by_index() -> None:
    msg = policy()
    apply(msg, "clusters[local].authority", "svc.internal")
    apply(msg, "clusters[0].dns_refresh", "250ms")
    apply(msg, "clusters[local].endpoints[0].weight", "3")
    apply(msg, "route_tables[inbound].routes[local].match.service", "pkg.Svc")
    cluster = msg.clusters[0]
    assert cluster.authority == "svc.internal"
    assert cluster.dns_refresh.ToMilliseconds() == 250
    assert cluster.endpoints[0].weight == 3
    assert msg.route_tables[0].routes[0].match.service == "pkg.Svc"


def test_a_mapping_appends_a_named_element_and_null_removes_it() -> None:
    msg = policy()
    apply(msg, "clusters[echo]", "{endpoints: [{address: '10.0.0.1:80'}], authority: echo}")
    assert [c.name for c in msg.clusters] == ["local", "echo"]
    assert msg.clusters[1].endpoints[0].address == "10.0.0.1:80"
    apply(msg, "clusters[echo]", "null")
    assert [c.name for c in msg.clusters] == ["local"]
    apply(msg, "clusters[local].authority", "null")
    assert msg.clusters[0].authority == ""


def test_enums_and_maps() -> None:
    boot = config_pb2.Bootstrap()
    boot.listeners.add(name="in")
    apply(boot, "listeners[in].direction", "outbound")
    apply(boot, "node.labels[zone]", "eu-1")
    assert boot.listeners[0].direction == config_pb2.Listener.OUTBOUND
    assert dict(boot.node.labels) == {"zone": "eu-1"}


@pytest.mark.parametrize(
    ("path", "value", "field", "reason"),
    [
        ("clusters[nope].authority", "x", "clusters[nope]", "no element named 'nope' (have: local)"),
        ("clusters[5].authority", "x", "clusters[5]", "index 5 is out of range (1 elements)"),
        ("clusters[local].bogus", "x", "clusters[local].bogus", "unknown field (known fields: name, endpoints"),
        ("clusters[local].endpoints[0].weight", "heavy", "clusters[local].endpoints[0].weight", "expected an integer"),
        ("clusters[local].endpoints[0].weight", "-1", "clusters[local].endpoints[0].weight", "non-negative"),
        ("clusters[local].dns_refresh", "soon", "clusters[local].dns_refresh", "expected a duration"),
        ("clusters", "x", "clusters", "clusters is a list: patch one element"),
        ("clusters[local].authority", "[1, 2]", "clusters[local].authority", "expected a string"),
        ("clusters[local]", "3", "clusters[local]", "expected a mapping for Cluster"),
        ("clusters[local].authority.x", "1", "clusters[local].authority", "is a scalar and has no fields"),
        ("Bad-Name", "1", "Bad-Name", "expected a field name"),
        ("clusters[local].authority", "{a: [", "clusters[local].authority", "value is not valid YAML"),
    ],
)
def test_errors_name_the_path_and_the_reason(path: str, value: str, field: str, reason: str) -> None:
    msg = policy()
    before = msg.SerializeToString()
    with pytest.raises(PatchError) as info:
        apply(msg, path, value)
    assert info.value.field == field
    assert reason in info.value.reason
    if "[nope]" in path or "[5]" in path:
        assert msg.SerializeToString() == before
