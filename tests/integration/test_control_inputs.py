"""Hostile input to a real control plane (issue 10.c/e/f): INVALID_ARGUMENT naming the field, paged history."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from apex.mesh.v1 import config_pb2, control_pb2, control_pb2_grpc

from sidecar.config.yaml_proto import fill
from tests.support.control_plane_proc import ControlPlaneProcess

pytestmark = pytest.mark.integration

BAD_NAMES = ["*", "a b", "x\ny", "../../etc", "a\x00b", "\x1b[31mred", "-lead", "a..b", "x" * 254]


@pytest.fixture(scope="module")
def cp(redis_url: str) -> Iterator[ControlPlaneProcess]:
    with ControlPlaneProcess(redis_url) as proc:
        yield proc


def apex(cp: ControlPlaneProcess, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "sidecar", *args, "--control-plane", cp.address]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env={**os.environ, "APEX_AUTHOR": "t"})


def _policy(authority: str = "echo.internal") -> config_pb2.Policy:
    policy = config_pb2.Policy()
    policy.route_tables.add(name="inbound").routes.add(name="all", cluster="echo")
    cluster = policy.clusters.add(name="echo", authority=authority)
    cluster.endpoints.add(address="127.0.0.1:15011")
    return policy


def _error(call: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()  # type: ignore[operator]
    return info.value


def test_an_out_of_range_patch_is_invalid_argument_naming_the_field(cp: ControlPlaneProcess) -> None:
    cp.set_policy("patchy", _policy(), expected=0)
    result = apex(cp, "policy", "patch", "-s", "patchy", "clusters[echo].limits.max_requests=99999999999")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "apex: invalid patch: clusters[echo].limits.max_requests: 99999999999 is outside 0..4294967295"
    )
    result = apex(cp, "policy", "patch", "-s", "patchy", "clusters[echo].dns_refresh=99999999999999999999s")
    assert result.returncode == 1 and "clusters[echo].dns_refresh" in result.stderr
    assert "Unexpected" not in result.stderr
    for canary in ("150", "0", "nan"):
        result = apex(cp, "policy", "patch", "-s", "patchy", "clusters[echo].authority=x", "--canary", canary)
        assert result.returncode == 1 and "rollout_percent must be in (0, 100]" in result.stderr, result.stderr
    for bad in ("0", "99"):
        result = apex(cp, "policy", "rollback", "-s", "patchy", "--to", bad)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "Traceback" not in cp.log()
    assert [r.version for r in cp.stub.History(control_pb2.HistoryRequest(service="patchy"), timeout=10).records] == [1]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_service_names_are_refused_by_the_policy_api(cp: ControlPlaneProcess, name: str) -> None:
    error = _error(lambda: cp.set_policy(name, _policy(), expected=0))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("service: ")
    for request, method in (
        (control_pb2.GetPolicyRequest(service=name), cp.stub.GetPolicy),
        (control_pb2.HistoryRequest(service=name), cp.stub.History),
        (control_pb2.ListInstancesRequest(service=name), cp.stub.ListInstances),
    ):
        assert _error(lambda r=request, m=method: m(r, timeout=10)).code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_hello_with_a_bad_name_is_refused(cp: ControlPlaneProcess) -> None:
    with grpc.insecure_channel(cp.address) as channel:
        stub = control_pb2_grpc.ControlPlaneStub(channel)
        cases = [
            ("../../etc", "i-1", "127.0.0.1:1", "hello.service", "not a valid name"),
            ("echo", "a\x1b[2Jb", "127.0.0.1:1", "hello.instance", "not a valid name"),
            ("echo", "i-1", "999.1.1.1:15001", "hello.inbound_address", "not an IP address or host name"),
            ("echo", "i-1", "10.0.0.1:70000", "hello.inbound_address", "port in 1..65535"),
        ]
        for service, instance, address, field, reason in cases:
            hello = control_pb2.Hello(service=service, instance=instance, inbound_address=address)
            stream = stub.Stream(iter([control_pb2.SidecarMessage(hello=hello)]), timeout=10)
            error = _error(lambda s=stream: list(s))
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert error.details().startswith(f"{field} ") and reason in error.details()
    assert all(i.service != "../../etc" for i in cp.instances())


def test_history_is_paged_and_never_one_huge_message(cp: ControlPlaneProcess) -> None:
    """Six versions of a 0.9 MB policy: 5.4 MB of history, more than one gRPC message may carry by default."""
    for version in range(6):
        cp.set_policy("big", _policy(f"{version}" + "a" * 900_000), expected=version)
    pages = []
    token = ""
    while True:
        page = cp.stub.History(control_pb2.HistoryRequest(service="big", page_token=token), timeout=10)
        assert page.ByteSize() < 4 << 20
        pages.append(page)
        if not (token := page.next_page_token):
            break
    assert len(pages) > 1
    assert [r.version for p in pages for r in p.records] == [6, 5, 4, 3, 2, 1]
    result = apex(cp, "policy", "history", "-s", "big")
    assert result.returncode == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()[1:]] == ["6", "5", "4", "3", "2", "1"]
    limited = apex(cp, "policy", "history", "-s", "big", "--limit", "2")
    assert [line.split()[0] for line in limited.stdout.splitlines()[1:]] == ["6", "5"]
    bad = _error(lambda: cp.stub.History(control_pb2.HistoryRequest(service="big", page_token="x:9:1"), timeout=10))
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT and "page_token" in bad.details()


def test_a_policy_over_the_size_limit_is_not_stored(cp: ControlPlaneProcess) -> None:
    error = _error(lambda: cp.set_policy("huge", _policy("a" * 1_200_000), expected=0))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "over the limit of 1048576 bytes" in error.details()
    assert _error(lambda: cp.stub.GetPolicy(control_pb2.GetPolicyRequest(service="huge"), timeout=10)).code() == (
        grpc.StatusCode.NOT_FOUND
    )


def test_the_cli_escapes_control_characters_from_the_control_plane(cp: ControlPlaneProcess) -> None:
    change = control_pb2.Change(author="mallory\x1b[2J", reason="ok\rgone\x07", expected_version=0)
    cp.stub.SetPolicy(control_pb2.SetPolicyRequest(service="escapes", policy=_policy(), change=change), timeout=10)
    for args in (("policy", "history", "-s", "escapes"), ("policy", "get", "-s", "escapes")):
        result = apex(cp, *args)
        assert result.returncode == 0, result.stderr
        assert "\x1b" not in result.stdout and "\r" not in result.stdout and "\x07" not in result.stdout
        assert "mallory\\x1b[2J" in result.stdout and "ok\\rgone\\x07" in result.stdout


def test_a_sidecar_nacks_a_push_over_its_policy_limit(redis_url: str, tmp_path: Path) -> None:
    """The control plane may allow more (--max-policy-bytes 4MiB); the sidecar keeps its own 1 MiB limit."""
    from sidecar.examples.echo import BackgroundEcho
    from tests.support.control_plane_proc import wait_for
    from tests.support.sidecar_proc import SidecarProcess, proxy_config

    echo = BackgroundEcho("limits").start()
    config = proxy_config(echo.address, service="limited")
    try:
        with ControlPlaneProcess(redis_url, args=["--max-policy-bytes", "4MiB"]) as big_cp:
            config.update(control_plane=big_cp.address, last_good_policy_file=str(tmp_path / "lg.binpb"))
            with SidecarProcess(config) as sidecar:
                wait_for(lambda: big_cp.instances("limited"), what="the sidecar to register")
                policy = fill(config_pb2.Policy(), config["policy"], "policy")
                assert isinstance(policy, config_pb2.Policy)
                policy.clusters[1].authority = "a" * 1_200_000
                big_cp.set_policy("limited", policy, expected=0)
                nacked = wait_for(
                    lambda: [i for i in big_cp.instances("limited") if i.last_nack_version == "1"], what="a NACK"
                )[0]
                assert nacked.last_nack_field == "policy"
                assert "over the limit of 1048576 bytes" in nacked.last_nack_reason
                assert sidecar.proc is not None and sidecar.proc.poll() is None
    finally:
        echo.close()


def test_policy_set_reads_its_file_strictly(cp: ControlPlaneProcess, tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("clusters: []\nroute_tables: []\nclusters: []\n")
    result = apex(cp, "policy", "set", "-s", "strict", str(path))
    assert result.returncode == 2
    assert f"apex policy set: invalid policy: {path}: line 3, column 1: invalid YAML: duplicate key 'clusters'" in (
        result.stderr
    )
    path.write_bytes(b"clusters: []\n# \xff\n")
    result = apex(cp, "policy", "set", "-s", "strict", str(path))
    assert result.returncode == 2 and "not UTF-8" in result.stderr
