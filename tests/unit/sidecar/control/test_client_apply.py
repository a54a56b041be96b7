"""The control client's handling of pushes against a real (unstarted) Sidecar: ACK, NACK, endpoints."""

from __future__ import annotations

import asyncio
from pathlib import Path

from apex.mesh.v1 import config_pb2, control_pb2

from sidecar.config import bootstrap as bootstrap_file
from sidecar.control import persist
from sidecar.control.client import ControlClient
from sidecar.runtime.sidecar import Sidecar

CONFIG = """
node: {service: front, instance: front-1, address: "10.1.1.1:8080"}
control_plane: 127.0.0.1:1
listeners:
  - {name: outbound, address: "127.0.0.1:0", direction: OUTBOUND}
policy:
  route_tables:
    - name: outbound
      routes: [{name: all, cluster: catalog}]
  clusters:
    - {name: catalog, discover: catalog, endpoints: [{address: "10.0.0.9:80"}]}
"""


def make(tmp_path: Path) -> tuple[Sidecar, ControlClient]:
    path = tmp_path / "sidecar.yaml"
    path.write_text(CONFIG + f"last_good_policy_file: {tmp_path / 'lg.binpb'}\n")
    config, model = bootstrap_file.load(path)
    sidecar = Sidecar(config, model, str(path))
    assert model.control_plane is not None
    return sidecar, ControlClient(sidecar, model.control_plane)


def outbox(client: ControlClient) -> list[control_pb2.SidecarMessage]:
    items = []
    while not client._outbox.empty():
        item = client._outbox.get_nowait()
        assert item is not None
        items.append(item)
    return items


def push(sidecar: Sidecar, version: str, table: str = "outbound") -> control_pb2.PolicyPush:
    msg = control_pb2.PolicyPush(version=version, nonce=f"n{version}")
    msg.policy.CopyFrom(sidecar.config.policy)
    msg.policy.route_tables[0].name = table
    msg.policy.clusters[0].authority = f"v{version}"
    return msg


def test_a_valid_push_is_applied_persisted_and_acked(tmp_path: Path) -> None:
    sidecar, client = make(tmp_path)
    asyncio.run(client._apply(push(sidecar, "3")))
    assert sidecar.policy.version == "3"
    assert sidecar.policy.clusters[0].authority == "v3"
    sent = outbox(client)
    assert sent[0].ack == control_pb2.Ack(version="3", nonce="n3")
    assert [(c.cluster, c.service) for c in sent[1].subscribe.clusters] == [("catalog", "catalog")]
    saved = persist.load(tmp_path / "lg.binpb")
    assert saved is not None and saved.version == "3"


def test_an_invalid_push_is_nacked_with_field_and_reason_and_the_old_policy_stays(tmp_path: Path) -> None:
    sidecar, client = make(tmp_path)
    asyncio.run(client._apply(push(sidecar, "3")))
    outbox(client)
    asyncio.run(client._apply(push(sidecar, "4", table="elsewhere")))
    (nack,) = outbox(client)
    assert nack.nack.version == "4" and nack.nack.nonce == "n4"
    assert nack.nack.field == "policy.route_tables"
    assert nack.nack.reason == "missing route table(s) for listeners: ['outbound']"
    assert sidecar.policy.version == "3"
    saved = persist.load(tmp_path / "lg.binpb")
    assert saved is not None and saved.version == "3"


def test_restore_starts_from_the_last_good_policy_and_skips_a_stale_one(tmp_path: Path) -> None:
    sidecar, client = make(tmp_path)
    persist.save(tmp_path / "lg.binpb", push(sidecar, "9"))
    client.restore()
    assert sidecar.policy.version == "9"
    other, other_client = make(tmp_path)
    persist.save(tmp_path / "lg.binpb", push(other, "10", table="elsewhere"))  # no longer fits the listeners
    other_client.restore()
    assert other.policy.version == ""


def test_endpoint_pushes_merge_with_static_endpoints_and_survive_a_policy_swap(tmp_path: Path) -> None:
    sidecar, client = make(tmp_path)
    sidecar._install(sidecar.policy)
    update = control_pb2.EndpointPush()
    update.clusters.add(cluster="catalog", addresses=["10.0.0.2:80", "10.0.0.1:80", "10.0.0.9:80"])
    client._endpoints(update)
    current = [r.address for r in sidecar.state.endpoints["catalog"].current]
    assert current == ["10.0.0.9:80", "10.0.0.1:80", "10.0.0.2:80"]  # static first, no duplicate
    asyncio.run(client._apply(push(sidecar, "5")))  # the cluster changed: a new EndpointSet
    assert [r.address for r in sidecar.state.endpoints["catalog"].current] == current


def test_hello_carries_the_node_and_the_policy_in_force(tmp_path: Path) -> None:
    sidecar, client = make(tmp_path)
    hello = client.hello()
    assert (hello.service, hello.instance, hello.inbound_address) == ("front", "front-1", "10.1.1.1:8080")
    assert hello.version.startswith("apex-mesh/")
    assert hello.applied_version == ""
    assert isinstance(sidecar.config, config_pb2.Bootstrap)


def test_discovered_endpoints_are_saved_and_restored_with_the_last_good_policy(tmp_path: Path) -> None:
    _, client = make(tmp_path)
    update = control_pb2.EndpointPush()
    update.clusters.add(cluster="catalog", addresses=["10.0.0.1:80"])
    assert client._endpoints(update)
    assert not client._endpoints(update)  # unchanged: nothing to rewrite
    asyncio.run(client._save_endpoints())
    restarted, restarted_client = make(tmp_path)
    restarted_client.restore()
    restarted._install(restarted.policy)
    assert [r.address for r in restarted.state.endpoints["catalog"].current] == ["10.0.0.9:80", "10.0.0.1:80"]
