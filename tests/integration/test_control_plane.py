"""The control plane end to end: real Redis, real control-plane processes, real sidecar processes."""

from __future__ import annotations

import asyncio
import copy
import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from apex.mesh.v1 import admin_pb2, admin_pb2_grpc, config_pb2, control_pb2, control_pb2_grpc
from redis.asyncio import Redis

from engines.control.store import PolicyStore
from sidecar.config.yaml_proto import fill
from sidecar.examples.echo import BackgroundEcho
from sidecar.support.redis_server import RedisServer
from tests.support.control_plane_proc import ControlPlaneProcess, Traffic, wait_for
from tests.support.sidecar_proc import SidecarProcess, proxy_config

pytestmark = pytest.mark.integration


def controlled(echo: BackgroundEcho, cp: ControlPlaneProcess, last_good: Path, service: str = "echo") -> dict[str, Any]:
    config = proxy_config(echo.address, service=service)
    config["control_plane"] = cp.address
    config["last_good_policy_file"] = str(last_good)
    config["heartbeat_interval"] = "250ms"
    return config


def policy(echo: BackgroundEcho, marker: str = "") -> config_pb2.Policy:
    """The proxy_config policy; `marker` sets the echo cluster's authority so versions differ."""
    data = copy.deepcopy(proxy_config(echo.address)["policy"])
    if marker:
        data["clusters"][1]["authority"] = marker
    return fill(config_pb2.Policy(), data, "policy")  # type: ignore[return-value]


def stats(sidecar: SidecarProcess) -> admin_pb2.Stats:
    with grpc.insecure_channel(sidecar["admin"]) as channel:
        return admin_pb2_grpc.AdminStub(channel).GetStats(admin_pb2.GetStatsRequest(), timeout=5)


def authority(sidecar: SidecarProcess) -> str:
    """The echo cluster's authority in the sidecar's policy in force (the tests' version marker)."""
    with grpc.insecure_channel(sidecar["admin"]) as channel:
        dump = admin_pb2_grpc.AdminStub(channel).GetConfig(admin_pb2.GetConfigRequest(), timeout=5)
    return str(dump.bootstrap.policy.clusters[1].authority)


def applied(cp: ControlPlaneProcess, service: str, version: int, count: int) -> bool:
    acked = [i for i in cp.instances(service) if i.applied_version == str(version) and i.connected]
    return len(acked) == count


@pytest.fixture
def cp(redis_url: str) -> Iterator[ControlPlaneProcess]:
    with ControlPlaneProcess(redis_url) as proc:
        yield proc


def test_a_change_reaches_every_sidecar_within_a_second_and_each_acks(
    echo: BackgroundEcho, cp: ControlPlaneProcess, tmp_path: Path
) -> None:
    sidecars = [SidecarProcess(controlled(echo, cp, tmp_path / f"lg{i}.binpb")) for i in range(3)]
    try:
        for sc in sidecars:
            sc.start()
        wait_for(lambda: len([i for i in cp.instances("echo") if i.healthy]) == 3, what="3 healthy instances")
        times = []
        for version in range(1, 6):
            start = time.monotonic()
            cp.set_policy("echo", policy(echo, f"v{version}"), expected=version - 1)
            wait_for(lambda v=version: applied(cp, "echo", v, 3), timeout=10, what=f"ACKs of {version}")
            times.append(time.monotonic() - start)
            assert all(stats(sc).policy_version == str(version) for sc in sidecars)
        times.sort()
        print(f"convergence (set -> 3 ACKs) seconds: {[round(t, 3) for t in times]}")
        # Typically 20-50 ms; bounds stay generous for a loaded 2-core machine.
        assert times[len(times) // 2] < 1.0 and times[-1] < 2.0, times
        assert all(not i.last_nack_reason for i in cp.instances("echo"))
    finally:
        for sc in sidecars:
            sc.close()


def test_an_invalid_push_is_nacked_and_traffic_keeps_flowing(
    echo: BackgroundEcho, cp: ControlPlaneProcess, tmp_path: Path
) -> None:
    with SidecarProcess(controlled(echo, cp, tmp_path / "lg.binpb")) as sc:
        cp.set_policy("echo", policy(echo, "good"), expected=0)
        wait_for(lambda: applied(cp, "echo", 1, 1), what="ACK of version 1")
        bad = policy(echo, "good")
        bad.route_tables[0].name = "not-inbound"  # valid alone; the sidecar's "inbound" listener needs it
        with Traffic(sc["inbound"]) as traffic:
            wait_for(lambda: traffic.ok > 20, what="traffic")
            cp.set_policy("echo", bad, expected=1, reason="missing a listener's route table")
            nacked = wait_for(
                lambda: [i for i in cp.instances("echo") if i.last_nack_version == "2"], what="NACK of version 2"
            )[0]
            before = traffic.ok
            wait_for(lambda: traffic.ok > before + 20, what="traffic after the NACK")
        assert nacked.last_nack_field == "policy.route_tables"
        assert "missing route table(s) for listeners: ['inbound']" in nacked.last_nack_reason
        assert nacked.applied_version == "1"
        assert stats(sc).policy_version == "1"
        assert traffic.failed == []
        with grpc.insecure_channel(sc["admin"]) as channel:
            seen = control_pb2_grpc.SidecarControlStub(channel).GetControlStatus(
                control_pb2.GetControlStatusRequest(), timeout=5
            )
        assert (seen.connected, seen.policy_version, seen.applied, seen.rejected) == (True, "1", 1, 1)
        assert seen.last_nack == "2: policy.route_tables: missing route table(s) for listeners: ['inbound']"
        # The next good version is applied normally.
        cp.set_policy("echo", policy(echo, "fixed"), expected=2)
        wait_for(lambda: applied(cp, "echo", 3, 1), what="ACK of version 3")


def test_control_plane_restart_sidecars_keep_serving_reconnect_and_converge(
    echo: BackgroundEcho, cp: ControlPlaneProcess, redis_url: str, tmp_path: Path
) -> None:
    sidecars = [SidecarProcess(controlled(echo, cp, tmp_path / f"lg{i}.binpb")).start() for i in range(2)]
    try:
        cp.set_policy("echo", policy(echo, "before"), expected=0)
        wait_for(lambda: applied(cp, "echo", 1, 2), what="ACKs of version 1")
        with Traffic(sidecars[0]["inbound"]) as t0, Traffic(sidecars[1]["inbound"]) as t1:
            cp.stop(kill=True)
            # While it is down, an engine writes version 2 straight into the store.
            asyncio.run(_write_direct(redis_url, cp.prefix, policy(echo, "during-outage"), expected=1))
            before = (t0.ok, t1.ok)
            wait_for(lambda: t0.ok > before[0] + 20 and t1.ok > before[1] + 20, what="traffic with no control plane")
            assert all(stats(sc).policy_version == "1" for sc in sidecars)
            restarted = time.monotonic()
            cp.start()
            wait_for(lambda: applied(cp, "echo", 2, 2), timeout=20, what="convergence after restart")
            print(f"reconnect + converge after restart: {time.monotonic() - restarted:.3f}s")
        assert t0.failed == [] and t1.failed == []
        assert all(stats(sc).policy_version == "2" for sc in sidecars)
    finally:
        for sc in sidecars:
            sc.close()


async def _write_direct(redis_url: str, prefix: str, pol: config_pb2.Policy, expected: int) -> None:
    redis = Redis.from_url(redis_url)
    try:
        store = PolicyStore(redis, prefix=prefix)
        change = control_pb2.Change(author="tuner", source=control_pb2.TUNER, reason="direct")
        change.expected_version = expected
        await store.set("echo", pol, change)
    finally:
        await redis.aclose()


def test_a_sidecar_restarted_with_the_control_plane_down_starts_from_its_last_good_policy(
    echo: BackgroundEcho, cp: ControlPlaneProcess, tmp_path: Path
) -> None:
    config = controlled(echo, cp, tmp_path / "lg.binpb")
    sc = SidecarProcess(config).start()
    try:
        cp.set_policy("echo", policy(echo, "pushed"), expected=0)
        wait_for(lambda: applied(cp, "echo", 1, 1), what="ACK of version 1")
        wait_for(lambda: (tmp_path / "lg.binpb").exists(), what="the last good policy file")
        cp.stop()
        sc.stop()
        sc.start()
        assert stats(sc).policy_version == "1"  # not the bootstrap's ""
        with Traffic(sc["inbound"]) as traffic:
            wait_for(lambda: traffic.ok > 20, what="traffic")
        assert traffic.failed == []
        assert authority(sc) == "pushed"
    finally:
        sc.close()


def test_a_corrupt_last_good_file_falls_back_to_the_bootstrap(
    echo: BackgroundEcho, cp: ControlPlaneProcess, tmp_path: Path
) -> None:
    (tmp_path / "lg.binpb").write_bytes(b"\xff\xff not a policy")
    cp.stop()
    with SidecarProcess(controlled(echo, cp, tmp_path / "lg.binpb")) as sc:
        assert stats(sc).policy_version == ""
        with Traffic(sc["inbound"]) as traffic:
            wait_for(lambda: traffic.ok > 5, what="traffic")
        assert traffic.failed == []
        assert "corrupt" in sc.log()


def test_two_replicas_both_push_a_change_made_through_either(
    echo: BackgroundEcho, redis_url: str, tmp_path: Path
) -> None:
    with ControlPlaneProcess(redis_url) as a, ControlPlaneProcess(redis_url, prefix=a.prefix) as b:
        sc_a = SidecarProcess(controlled(echo, a, tmp_path / "a.binpb")).start()
        sc_b = SidecarProcess(controlled(echo, b, tmp_path / "b.binpb")).start()
        try:
            wait_for(lambda: len(a.instances("echo")) == 2 and len(b.instances("echo")) == 2, what="shared registry")
            replicas = {i.instance: i.replica for i in a.instances("echo")}
            assert len(set(replicas.values())) == 2
            for version, via in enumerate([a, b, a, b], start=1):
                start = time.monotonic()
                via.set_policy("echo", policy(echo, f"v{version}"), expected=version - 1)
                wait_for(lambda v=version: applied(a, "echo", v, 2), what=f"both ACK version {version}")
                took = time.monotonic() - start
                print(f"version {version} via {via.address}: both replicas' sidecars in {took:.3f}s")
            assert stats(sc_a).policy_version == stats(sc_b).policy_version == "4"
        finally:
            sc_a.close()
            sc_b.close()


def test_concurrent_writers_conflict_visibly(echo: BackgroundEcho, redis_url: str) -> None:
    with ControlPlaneProcess(redis_url) as a, ControlPlaneProcess(redis_url, prefix=a.prefix) as b:
        a.set_policy("echo", policy(echo, "base"), expected=0)
        for round_ in range(1, 6):
            futures = []
            channels = []
            for i, replica in enumerate((a, b)):
                channel, stub = replica.admin()
                channels.append(channel)
                change = control_pb2.Change(author=f"writer{i}", reason="race", expected_version=round_)
                request = control_pb2.SetPolicyRequest(
                    service="echo", policy=policy(echo, f"r{round_}w{i}"), change=change
                )
                futures.append(stub.SetPolicy.future(request, timeout=10))
            outcomes = []
            for future in futures:
                try:
                    outcomes.append(future.result().version)
                except grpc.RpcError as exc:
                    assert exc.code() == grpc.StatusCode.ABORTED
                    assert "version conflict" in exc.details()
                    outcomes.append(None)
            for channel in channels:
                channel.close()
            assert outcomes.count(None) == 1 and round_ + 1 in outcomes, outcomes
        channel, stub = a.admin()
        with channel:
            history = stub.History(control_pb2.HistoryRequest(service="echo"), timeout=10).records
        assert [r.version for r in history] == [6, 5, 4, 3, 2, 1]
        # Every stored version's diff is against the version it was based on: nothing overwritten silently.
        for newer, older in itertools.pairwise(history):
            assert newer.diff, f"version {newer.version} records no change"
            assert any(c.old_value == f'"{older.policy.clusters[1].authority}"' for c in newer.diff)


def test_a_redis_outage_leaves_sidecars_serving_and_admin_says_why(
    echo: BackgroundEcho, redis_server: RedisServer, tmp_path: Path
) -> None:
    with ControlPlaneProcess(redis_server.url) as cp, SidecarProcess(controlled(echo, cp, tmp_path / "lg.binpb")) as sc:
        cp.set_policy("echo", policy(echo, "v1"), expected=0)
        wait_for(lambda: applied(cp, "echo", 1, 1), what="ACK of version 1")
        with Traffic(sc["inbound"]) as traffic:
            redis_server.stop()
            with pytest.raises(grpc.RpcError) as info:
                cp.set_policy("echo", policy(echo, "v2"), expected=1)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "policy store unavailable" in (info.value.details() or "")
            before = traffic.ok
            wait_for(lambda: traffic.ok > before + 20, what="traffic while Redis is down")
            redis_server.start()  # an empty Redis (no persistence in tests): the store starts over
            wait_for(lambda: len(cp.instances("echo")) == 1, what="the sidecar re-registered")
            cp.set_policy("echo", policy(echo, "after"), expected=0)
            wait_for(lambda: authority(sc) == "after", what="the new version 1 applied")
            assert applied(cp, "echo", 1, 1)
        assert traffic.failed == []
