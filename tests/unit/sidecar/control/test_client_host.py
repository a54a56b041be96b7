"""The control client through its narrow interface (PolicyHost): protobuf stops at the client, the host gets Policy."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from apex.mesh.v1 import config_pb2, control_pb2

from sidecar.config import bootstrap as bootstrap_file
from sidecar.config.yaml_proto import fill
from sidecar.control import persist
from sidecar.control.client import ControlClient
from sidecar.control.host import PolicyHost
from sidecar.policy.address import parse_address
from sidecar.policy.errors import ConfigError
from sidecar.policy.model import ControlPlane, Node, Policy
from sidecar.runtime.sidecar import Sidecar

POLICY = {
    "route_tables": [{"name": "outbound", "routes": [{"name": "all", "cluster": "catalog"}]}],
    "clusters": [{"name": "catalog", "discover": "catalog", "endpoints": [{"address": "10.0.0.9:80"}]}],
}


@dataclass
class Host:
    """A PolicyHost that records what the client hands it (the real Sidecar is tested below)."""

    node: Node = field(default_factory=lambda: Node(service="front", instance="front-1"))
    policy: Policy = field(default_factory=lambda: Policy(version="", route_tables=(), clusters=()))
    applied: list[tuple[Policy, config_pb2.Policy | None]] = field(default_factory=list)
    rejections: list[tuple[str, str]] = field(default_factory=list)
    endpoints: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def inbound_address(self) -> str:
        return "127.0.0.1:7001"

    def apply(self, policy: Policy, message: config_pb2.Policy | None = None) -> bool:
        self.applied.append((policy, message))
        self.policy = policy
        return True

    def rejected(self, error: ConfigError, version: str) -> None:
        self.rejections.append((error.field, version))

    def set_discovered(self, cluster: str, addresses: tuple[str, ...]) -> bool:
        changed = self.endpoints.get(cluster) != addresses
        self.endpoints[cluster] = addresses
        return changed

    def discovered(self) -> Mapping[str, tuple[str, ...]]:
        return dict(self.endpoints)


def settings(tmp_path: Path) -> ControlPlane:
    return ControlPlane(address=parse_address("127.0.0.1:1"), last_good_file=str(tmp_path / "lg.binpb"))


def policy_push(version: str, **overrides: object) -> control_pb2.PolicyPush:
    push = control_pb2.PolicyPush(version=version, nonce=f"n{version}")
    push.policy.CopyFrom(fill(config_pb2.Policy(), {**POLICY, **overrides}))
    return push


def sent(client: ControlClient) -> list[control_pb2.SidecarMessage]:
    items = []
    while not client._outbox.empty():
        item = client._outbox.get_nowait()
        assert item is not None
        items.append(item)
    return items


def test_a_push_reaches_the_host_as_a_validated_policy_stamped_with_the_push_version(tmp_path: Path) -> None:
    host = Host()
    client = ControlClient(host, settings(tmp_path))
    asyncio.run(client._apply(policy_push("7")))
    ((policy, message),) = host.applied
    assert isinstance(policy, Policy) and policy.version == "7"
    assert policy.cluster("catalog").discover == "catalog"
    assert message is not None and message.version == "7"  # kept only for the host's config dump
    ack, subscribe = sent(client)
    assert ack.ack == control_pb2.Ack(version="7", nonce="n7")
    assert [(c.cluster, c.service) for c in subscribe.subscribe.clusters] == [("catalog", "catalog")]


def test_a_push_with_a_bad_field_is_nacked_naming_it_and_never_reaches_the_host(tmp_path: Path) -> None:
    host = Host()
    client = ControlClient(host, settings(tmp_path))
    bad = [{"name": "catalog", "endpoints": [{"address": "nowhere"}]}]
    asyncio.run(client._apply(policy_push("8", clusters=bad)))
    assert host.applied == []
    field_path = "policy.clusters[0].endpoints[0].address"
    assert host.rejections == [(field_path, "8")]  # reported once, by the boundary that converted it
    (nack,) = sent(client)
    assert (nack.nack.version, nack.nack.nonce, nack.nack.field) == ("8", "n8", field_path)
    assert nack.nack.reason
    assert client.status.rejected == 1 and client.status.last_nack.startswith(f"8: {field_path}: ")
    assert persist.load(tmp_path / "lg.binpb") is None


def test_hello_names_the_node_and_the_hosts_inbound_address_when_none_is_advertised(tmp_path: Path) -> None:
    host = Host(policy=Policy(version="v3", route_tables=(), clusters=()))
    hello = ControlClient(host, settings(tmp_path)).hello()
    assert (hello.service, hello.instance, hello.inbound_address, hello.applied_version) == (
        "front",
        "front-1",
        "127.0.0.1:7001",
        "v3",
    )


def test_endpoint_pushes_go_to_the_host_and_restore_from_disk(tmp_path: Path) -> None:
    host = Host()
    client = ControlClient(host, settings(tmp_path))
    update = control_pb2.EndpointPush()
    update.clusters.add(cluster="catalog", addresses=["10.0.0.1:80"])
    assert client._endpoints(update) and not client._endpoints(update)
    asyncio.run(client._save_endpoints())
    restarted = Host()
    ControlClient(restarted, settings(tmp_path)).restore()
    assert restarted.endpoints == {"catalog": ("10.0.0.1:80",)}
    assert restarted.applied == []  # endpoints only: no last good policy was saved


# --- the real Sidecar behind the same interface ------------------------------------------------

CONFIG = """
node: {service: front, instance: front-1, address: "10.1.1.1:8080"}
control_plane: 127.0.0.1:1
listeners:
  - {name: outbound, address: "127.0.0.1:0", direction: OUTBOUND}
"""


def sidecar_and_client(tmp_path: Path) -> tuple[Sidecar, ControlClient]:
    path = tmp_path / "sidecar.yaml"
    path.write_text(CONFIG + yaml.safe_dump({"policy": POLICY, "last_good_policy_file": str(tmp_path / "lg.binpb")}))
    config, model = bootstrap_file.load(path)
    sidecar = Sidecar(config, model, str(path))
    sidecar._install(sidecar.policy)
    host: PolicyHost = sidecar  # the Sidecar satisfies the client's narrow interface
    assert model.control_plane is not None
    return sidecar, ControlClient(host, model.control_plane)


def test_a_bad_push_to_a_sidecar_is_nacked_and_the_old_policy_keeps_serving(tmp_path: Path) -> None:
    sidecar, client = sidecar_and_client(tmp_path)
    asyncio.run(client._apply(policy_push("1")))
    routers = sidecar._routers
    sent(client)
    bad = [{"name": "catalog", "endpoints": [{"address": "10.0.0.9:80", "weight": 10_001}]}]
    asyncio.run(client._apply(policy_push("2", clusters=bad)))
    (nack,) = sent(client)
    assert nack.nack.field == "policy.clusters[0].endpoints[0].weight"
    assert sidecar.policy.version == "1" and sidecar._routers is routers
    assert sidecar.effective_config().policy.version == "1"
    saved = persist.load(tmp_path / "lg.binpb")
    assert saved is not None and saved.version == "1"


def test_an_identical_re_push_is_acked_again_without_a_rebuild(tmp_path: Path) -> None:
    sidecar, client = sidecar_and_client(tmp_path)
    asyncio.run(client._apply(policy_push("1")))
    routers, switch = sidecar._routers, sidecar._switches["outbound"].service
    sent(client)
    again = policy_push("1")
    again.nonce = "reconnect"
    asyncio.run(client._apply(again))
    assert sidecar._routers is routers and sidecar._switches["outbound"].service is switch
    assert sent(client)[0].ack == control_pb2.Ack(version="1", nonce="reconnect")
    assert client.status.applied == 2


def test_a_push_equal_once_validated_rebuilds_nothing_but_the_dump_shows_what_was_pushed(tmp_path: Path) -> None:
    sidecar, client = sidecar_and_client(tmp_path)
    asyncio.run(client._apply(policy_push("1")))
    routers = sidecar._routers
    tables = [{"name": "outbound", "routes": [{"name": "all", "cluster": "catalog", "match": {"authority": "X"}}]}]
    asyncio.run(client._apply(policy_push("2", route_tables=tables)))
    assert sidecar._routers is not routers  # a real change: rebuilt
    routers = sidecar._routers
    tables[0]["routes"][0]["match"] = {"authority": "x"}  # lower-cased on validation: the same Policy
    asyncio.run(client._apply(policy_push("2", route_tables=tables)))
    assert sidecar._routers is routers
    assert sidecar.effective_config().policy.route_tables[0].routes[0].match.authority == "x"
