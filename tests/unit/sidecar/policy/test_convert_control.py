"""Validation of the control-plane fields: discovered clusters, control_plane settings, node address."""

from __future__ import annotations

import pytest
from apex.mesh.v1 import config_pb2

from sidecar.config.yaml_proto import fill
from sidecar.policy import convert
from sidecar.policy.errors import ConfigError


def boot(**extra: object) -> config_pb2.Bootstrap:
    data = {
        "listeners": [{"name": "in", "address": "127.0.0.1:0", "direction": "INBOUND"}],
        "policy": {
            "route_tables": [{"name": "in", "routes": [{"name": "all", "cluster": "c"}]}],
            "clusters": [{"name": "c", "discover": "catalog"}],
        },
        **extra,
    }
    return fill(config_pb2.Bootstrap(), data)  # type: ignore[return-value]


def test_a_discovered_cluster_needs_no_static_endpoint() -> None:
    model = convert.bootstrap(boot())
    assert model.policy.clusters[0].discover == "catalog"
    assert model.policy.clusters[0].endpoints == ()
    assert model.control_plane is None


def test_a_static_cluster_still_needs_an_endpoint() -> None:
    msg = boot()
    msg.policy.clusters[0].discover = ""
    with pytest.raises(ConfigError) as info:
        convert.bootstrap(msg)
    assert info.value.field == "policy.clusters[0].endpoints"


def test_control_plane_settings_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", "/var/state")
    model = convert.bootstrap(boot(control_plane="cp.mesh:7700", node={"service": "front", "address": "10.0.0.1:80"}))
    assert model.control_plane is not None
    assert str(model.control_plane.address) == "cp.mesh:7700"
    assert model.control_plane.last_good_file == "/var/state/apex/front.policy.binpb"
    assert model.control_plane.heartbeat_interval == 1.0
    assert str(model.node.address) == "10.0.0.1:80"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"control_plane": "nope"}, "control_plane"),
        ({"control_plane": "cp:1", "heartbeat_interval": "0s"}, "heartbeat_interval"),
        ({"last_good_policy_file": "/tmp/x"}, "control_plane"),
        ({"node": {"address": "10.0.0.1"}}, "node.address"),
    ],
)
def test_bad_control_settings_name_the_field(extra: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        convert.bootstrap(boot(**extra))
    assert info.value.field == field


def test_a_bad_discover_name_is_refused() -> None:
    msg = boot()
    msg.policy.clusters[0].discover = "a/b"
    with pytest.raises(ConfigError) as info:
        convert.bootstrap(msg)
    assert info.value.field == "policy.clusters[0].discover"
