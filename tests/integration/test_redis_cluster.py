"""Telemetry, events, the ingest consumer group and the policy store on a real three-master Redis Cluster.

The cluster is three `redis-server --cluster-enabled yes` processes (sidecar.support.redis_cluster),
started once for the module and killed by PID at the end.
"""

from __future__ import annotations

import asyncio
import copy
import json
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apex.mesh.bus import EventPublisher, EventSubscriber, Priority
from apex.mesh.bus.connect import connect
from apex.mesh.contract import entries as entries_mod
from apex.mesh.contract import forecast as forecast_keys
from apex.mesh.contract import streams
from apex.mesh.v1 import config_pb2, control_pb2
from redis.crc import key_slot
from redis.exceptions import RedisClusterException, ResponseError

from benchmarks import ingest_scale
from engines.control.server import CLUSTER_PREFIX
from engines.control.store import PolicyStore
from sidecar.config.yaml_proto import fill
from sidecar.examples.echo import BackgroundEcho
from sidecar.support.redis_cluster import RedisClusterServers
from tests.support.control_plane_proc import ControlPlaneProcess, wait_for
from tests.support.observed import observed_config, poll, unary
from tests.support.sidecar_proc import APEX, SidecarProcess

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisClusterServers]:
    with RedisClusterServers() as servers:
        yield servers


async def owners(client: Any, keys: list[str]) -> set[str]:
    """The master nodes (host:port) holding `keys`."""
    return {client.get_node_from_key(k).name for k in keys}


def spread_services(client: Any, prefix: str, nodes: int = 3) -> list[str]:
    """Service names whose events keys land on every master."""
    names: dict[str, str] = {}
    i = 0
    while len(names) < nodes:
        name = f"{prefix}-{i}"
        node = client.get_node_from_key(streams.events_key(name)).name
        names.setdefault(node, name)
        i += 1
    return sorted(names.values())


def test_event_bus_across_masters_with_dead_letters(cluster: RedisClusterServers) -> None:
    services_seen: list[str] = []

    async def run() -> None:
        client = connect(cluster.url)
        await client.initialize()
        services = spread_services(client, f"ev{uuid.uuid4().hex[:6]}")
        services_seen.extend(services)
        assert len(await owners(client, [streams.events_key(s) for s in services])) == 3
        for s in services:
            dead = streams.dead_letter_key(streams.events_key(s))
            assert key_slot(dead.encode()) == key_slot(streams.events_key(s).encode())  # same slot: one transaction
        for s in services:
            pub = EventPublisher(client, s, "i-1")
            await pub.publish("service.health_degraded", priority=Priority.HIGH, correlation_id=f"c-{s}")
            await pub.publish("cache.flushed", priority=Priority.LOW)
        sub = EventSubscriber(client, "pager", "p-1", min_priority=Priority.HIGH, max_deliveries=1, claim_idle_ms=0)
        got = await sub.fetch()  # every service's stream, found by SCAN on every master
        mine = [d for d in got if d.event.service in services]
        assert sorted(d.event.correlation_id for d in mine) == sorted(f"c-{s}" for s in services)
        assert all(d.event.priority == Priority.HIGH for d in got)
        await sub.ack(*(d for d in got if d.event.service != services[0]))
        assert await sub.fetch() == []  # services[0]'s event passed max_deliveries=1 unacked
        dead = await client.xrange(streams.dead_letter_key(streams.events_key(services[0])))
        assert [f[b"source_stream"] for _, f in dead] == [streams.events_key(services[0]).encode()]
        await client.aclose()

    asyncio.run(run())
    tail = subprocess.run(
        [sys.executable, "-m", "sidecar", "events", "tail", "--redis", cluster.url, "--priority", "HIGH", "--json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert tail.returncode == 0, tail.stderr
    tailed = [json.loads(line) for line in tail.stdout.splitlines()]
    assert {e["service"] for e in tailed} >= set(services_seen)


def test_sidecar_publishes_telemetry_windows_to_the_cluster(echo: BackgroundEcho, cluster: RedisClusterServers) -> None:
    service = f"clu{uuid.uuid4().hex[:6]}"
    config = observed_config(echo.address, service=service, telemetry={"redis_url": cluster.url, "window": "200ms"})

    async def calls() -> int:
        client = connect(cluster.url)
        try:
            entries = await client.xrange(streams.telemetry_key(service))
        finally:
            await client.aclose()
        total = 0
        for _, fields in entries:
            window = entries_mod.decode_window(fields)
            total += sum(r.stats.calls for r in window.routes if r.route == "echo")
        return total

    with SidecarProcess(config) as proc:
        unary(proc["outbound"], 20)
        assert poll(lambda: asyncio.run(calls()), lambda n: n >= 20) == 20


def test_two_engine_processes_in_one_group_ingest_every_window_once(cluster: RedisClusterServers) -> None:
    names = asyncio.run(ingest_scale.fill(cluster.url, services=6, windows=1200))
    with tempfile.TemporaryDirectory() as tmp:
        group = f"g{uuid.uuid4().hex[:6]}"
        # Each process stops after 600 windows (reads of 50): whichever runs first, the other must take the rest.
        results = ingest_scale.run_processes(cluster.url, group, 2, Path(tmp), read_count=50, limit=600)
    summary = ingest_scale.summarize(
        results, expected=1200, services=set(names)
    )  # raises on a window lost or ingested twice
    assert sum(summary["per_process"]) == 1200
    assert all(n > 0 for n in summary["per_process"]), summary  # both took part (the limit makes sure)
    assert set(names) <= {s for r in results for s, _, _ in r["seen"]}


def policy(authority: str) -> config_pb2.Policy:
    return config_pb2.Policy(clusters=[config_pb2.Cluster(name="local", authority=authority)])


def test_policy_store_runs_on_the_cluster_with_a_hash_tagged_prefix(cluster: RedisClusterServers) -> None:
    """Its Lua write touches three keys: a `{...}` prefix puts the whole store in one slot."""

    async def run() -> None:
        client = connect(cluster.url)
        tag = uuid.uuid4().hex[:6]
        store = PolicyStore(client, prefix=f"{{apex:cp:{tag}}}:")
        first = await store.set("echo", policy("a"), control_pb2.Change(expected_version=0, author="t"))
        second = await store.set("echo", policy("b"), control_pb2.Change(expected_version=1, author="t"))
        assert (first.version, second.version) == (1, 2)
        assert [r.version for r in await store.history("echo")] == [2, 1]
        assert await store.services() == ["echo"]
        untagged = PolicyStore(client, prefix=f"apex:cp:{tag}:")  # the default layout spans slots
        with pytest.raises((ResponseError, RedisClusterException), match=r"(?i)slot"):
            await untagged.set("echo", policy("a"), control_pb2.Change(expected_version=0, author="t"))
        await client.aclose()

    asyncio.run(run())


def test_control_plane_and_forecaster_run_on_the_cluster(
    echo: BackgroundEcho, cluster: RedisClusterServers, tmp_path: Path
) -> None:
    """`apex control-plane --redis redis+cluster://...` stores versions and pushes them over the
    Cluster's pub/sub to a sidecar (which ACKs), and `apex forecaster --redis redis+cluster://...`
    reads that sidecar's telemetry windows from the Cluster in its consumer group and writes its
    snapshot there. A prefix without a hash tag is refused at start, naming the problem."""
    refused = subprocess.Popen(
        [*APEX, "control-plane", "--insecure", "--listen", "127.0.0.1:0", "--redis", cluster.url,
         "--prefix", "apex:cp:"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    service = f"cp{uuid.uuid4().hex[:6]}"
    group = f"fc{uuid.uuid4().hex[:6]}"
    log_path = tmp_path / "forecaster.log"
    forecaster: subprocess.Popen[bytes] | None = None
    code: int | None = None
    try:
        with ControlPlaneProcess(cluster.url, prefix=CLUSTER_PREFIX) as cp:
            config = observed_config(
                echo.address, service=service, telemetry={"redis_url": cluster.url, "window": "200ms"}
            )
            config["control_plane"] = cp.address
            config["last_good_policy_file"] = str(tmp_path / "last-good.binpb")
            config["heartbeat_interval"] = "250ms"
            with SidecarProcess(config) as proc:
                # the sidecar's stream exists now (it publishes from its start): the forecaster finds it
                with log_path.open("wb") as log:
                    forecaster = subprocess.Popen(
                        [*APEX, "forecaster", "--redis", cluster.url, "--control-plane", cp.address,
                         "--group", group, "--consumer", "f-1", "--dry-run", "--lag", "0.5",
                         "--snapshot-every", "1", "--evaluate-every", "1"],
                        stdout=log, stderr=subprocess.STDOUT,
                    )  # fmt: skip
                wait_for(lambda: [i for i in cp.instances(service) if i.connected], what="the sidecar registered")
                data = copy.deepcopy(config["policy"])
                data["clusters"][1]["authority"] = "v1.cluster"
                cp.set_policy(service, fill(config_pb2.Policy(), data, "policy"), expected=0)  # type: ignore[arg-type]
                wait_for(
                    lambda: [i for i in cp.instances(service) if i.applied_version == "1"],
                    what="the sidecar's ACK of v1",
                )
                unary(proc["inbound"], 10)  # the forecaster counts inbound routes as a service's load

                async def progress() -> tuple[str, bool]:
                    client = connect(cluster.url)
                    try:
                        try:
                            groups: Any = await client.xinfo_groups(streams.telemetry_key(service))
                        except ResponseError:  # no window published yet
                            groups = []
                        mine = [g for g in groups if g["name"] in (group, group.encode())]
                        last = mine[0]["last-delivered-id"] if mine else b"0-0"
                        snapshot = await client.exists(forecast_keys.snapshot_key(group))
                    finally:
                        await client.aclose()
                    return (last.decode() if isinstance(last, bytes) else str(last)), bool(snapshot)

                last, snapshot = poll(lambda: asyncio.run(progress()), lambda p: p[0] != "0-0" and p[1])
                assert last != "0-0", f"the forecaster read nothing:\n{log_path.read_text(errors='replace')}"
                assert snapshot, f"no snapshot written:\n{log_path.read_text(errors='replace')}"
    finally:
        if forecaster is not None:
            forecaster.terminate()
            code = forecaster.wait(20)
        _, err = refused.communicate(timeout=60)
    output = log_path.read_text(errors="replace")
    assert code == 0, output
    assert "CROSSSLOT" not in output and "Traceback" not in output, output
    assert refused.returncode == 2, err
    assert "prefix 'apex:cp:' has no hash tag" in err and "{apex:cp}:" in err
