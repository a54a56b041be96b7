"""Field-level policy diffs."""

from __future__ import annotations

from apex.mesh.v1 import config_pb2

from engines.control.diff import ADDED, CHANGED, REMOVED, Change, diff, flatten


def policy(**overrides: object) -> config_pb2.Policy:
    msg = config_pb2.Policy(version="7")
    table = msg.route_tables.add(name="inbound")
    table.routes.add(name="local", cluster="local")
    local = msg.clusters.add(name="local", authority="a")
    local.endpoints.add(address="127.0.0.1:80")
    local.dns_refresh.FromMilliseconds(250)
    msg.clusters.add(name="echo").endpoints.add(address="127.0.0.1:81", weight=2)
    return msg


def test_identical_policies_have_no_diff_and_the_version_is_ignored() -> None:
    other = policy()
    other.version = "8"
    assert diff(policy(), other) == []


def test_changed_added_and_removed_leaves_are_named_by_path() -> None:
    new = policy()
    new.clusters[0].authority = "b"
    new.clusters[0].dns_refresh.FromSeconds(2)
    new.clusters[1].endpoints[0].ClearField("weight")
    new.route_tables[0].routes[0].match.service = "pkg.Svc"
    assert diff(policy(), new) == [
        Change("route_tables[inbound].routes[local].match.service", ADDED, new='"pkg.Svc"'),
        Change("clusters[local].dns_refresh", CHANGED, old="250ms", new="2s"),  # field-number order
        Change("clusters[local].authority", CHANGED, old='"a"', new='"b"'),
        Change("clusters[echo].endpoints[0].weight", REMOVED, old="2"),
    ]


def test_named_elements_are_keyed_by_name_so_reordering_shows_nothing() -> None:
    new = policy()
    first = config_pb2.Cluster()
    first.CopyFrom(new.clusters[0])
    del new.clusters[0]
    new.clusters.append(first)
    assert diff(policy(), new) == []


def test_a_new_cluster_lists_its_fields_and_str_marks_the_kind() -> None:
    new = policy()
    new.clusters.add(name="extra", discover="catalog")
    changes = diff(policy(), new)
    assert [str(c) for c in changes] == ['+ clusters[extra].name: "extra"', '+ clusters[extra].discover: "catalog"']
    assert str(Change("x", CHANGED, old="1", new="2")) == "~ x: 1 -> 2"
    assert str(Change("x", REMOVED, old="1")) == "- x: 1"


def test_diff_from_nothing_adds_everything() -> None:
    # written out (not computed with flatten, the module under test): every leaf but the version
    assert diff(None, policy()) == [
        Change("route_tables[inbound].name", ADDED, new='"inbound"'),
        Change("route_tables[inbound].routes[local].name", ADDED, new='"local"'),
        Change("route_tables[inbound].routes[local].cluster", ADDED, new='"local"'),
        Change("clusters[local].name", ADDED, new='"local"'),
        Change("clusters[local].endpoints[0].address", ADDED, new='"127.0.0.1:80"'),
        Change("clusters[local].dns_refresh", ADDED, new="250ms"),
        Change("clusters[local].authority", ADDED, new='"a"'),
        Change("clusters[echo].name", ADDED, new='"echo"'),
        Change("clusters[echo].endpoints[0].address", ADDED, new='"127.0.0.1:81"'),
        Change("clusters[echo].endpoints[0].weight", ADDED, new="2"),
    ]


def test_enums_maps_and_empty_messages_are_printable() -> None:
    boot = config_pb2.Bootstrap()
    boot.listeners.add(name="in", direction=config_pb2.Listener.INBOUND)
    boot.node.labels["zone"] = "a"
    boot.admin.SetInParent()
    assert dict(flatten(boot)) == {
        "node.labels[zone]": '"a"',
        "admin": "{}",
        "listeners[in].name": '"in"',
        "listeners[in].direction": "INBOUND",
    }
