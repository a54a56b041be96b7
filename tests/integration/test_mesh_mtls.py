"""Two real sidecars get their certificates from the control plane's CA and talk mTLS, on either
transport (grpc, h2); a plaintext caller is refused by the strict inbound listener; the peer's
identity shows in the access log and in `apex admin security`; renewals and a CA rotation fail no call."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from apex.mesh.v1 import echo_pb2, echo_pb2_grpc

from sidecar.cli import main as apex
from sidecar.support.sidecar_proc import SidecarProcess
from tests.support.control_plane_proc import ControlPlaneProcess, wait_for

pytestmark = pytest.mark.integration
TRANSPORTS = pytest.mark.parametrize("transport", ["grpc", "h2"])
# The renewal and rotation tests run end to end on one transport each in `make test` (renewal on grpc, rotation
# on h2); `make test-mesh-mtls` sets APEX_SLOW_TESTS=1 and runs both on both. What differs per transport, the
# listener and connector taking new certificates and bundles under load, is tested on both transports by
# tests/integration/test_mtls.py::test_certificates_rotate_under_load_with_zero_failed_calls; the control-plane
# path (CSR, renewal, bundle push) is the same control stream whichever transport carries the calls.
SLOW = pytest.mark.skipif(not os.environ.get("APEX_SLOW_TESTS"), reason="both transports: make test-mesh-mtls")


def _one_transport_in_make_test(fast: str) -> pytest.MarkDecorator:
    return pytest.mark.parametrize(
        "transport", [t if t == fast else pytest.param(t, marks=SLOW) for t in ("grpc", "h2")]
    )


CALLER_ID = "spiffe://cluster.local/ns/default/sa/caller"
TOKENS = {"APEX_JOIN_ECHO": "join-echo-0123456789abcdef", "APEX_JOIN_CALLER": "join-caller-0123456789abcd"}


def _echo_sidecar(upstream: str, cp: str, transport: str) -> dict[str, Any]:
    return {
        "node": {"service": "echo"},
        "control_plane": cp,
        "security": {"join_token": {"env": "APEX_JOIN_ECHO"}},
        "admin": {"address": "127.0.0.1:0"},
        "logging": {"level": "DEBUG", "format": "JSON"},
        "listeners": [{"name": "inbound", "address": "127.0.0.1:0", "direction": "INBOUND", "mtls": "strict",
                       "transport": transport,
                       "allowed_principals": ["spiffe://cluster.local/ns/default/sa/caller"]}],
        "policy": {
            "route_tables": [{"name": "inbound", "routes": [{"name": "local", "cluster": "local"}]}],
            "clusters": [{"name": "local", "endpoints": [{"address": upstream}]}],
        },
    }  # fmt: skip


def _caller_sidecar(echo_inbound: str, cp: str, transport: str) -> dict[str, Any]:
    # Calls with `x-expect: other` go to the same endpoint through a cluster expecting another identity.
    expect_other = {"name": "other", "cluster": "other", "match": {"headers": [{"name": "x-expect", "exact": "other"}]}}
    return {
        "node": {"service": "caller"},
        "control_plane": cp,
        "security": {"join_token": {"env": "APEX_JOIN_CALLER"}},
        "listeners": [{"name": "outbound", "address": "127.0.0.1:0", "direction": "OUTBOUND"}],
        "policy": {
            "route_tables": [{"name": "outbound", "routes": [expect_other, {"name": "echo", "cluster": "echo"}]}],
            "clusters": [{"name": "echo", "mtls": True, "transport": transport,
                          "mtls_server_identity": "spiffe://cluster.local/ns/default/sa/echo",
                          "endpoints": [{"address": echo_inbound}]},
                         {"name": "other", "mtls": True, "transport": transport,
                          "mtls_server_identity": "spiffe://cluster.local/ns/default/sa/other",
                          "endpoints": [{"address": echo_inbound}]}],
        },
    }  # fmt: skip


def _unary(address: str, metadata: tuple[tuple[str, str], ...] | None = None) -> tuple[grpc.StatusCode, str]:
    with grpc.insecure_channel(address) as channel:
        try:
            reply = echo_pb2_grpc.EchoStub(channel).Unary(
                echo_pb2.EchoRequest(payload=b"mtls"), timeout=5, metadata=metadata
            )
        except grpc.RpcError as exc:
            return exc.code(), exc.details() or ""
        return grpc.StatusCode.OK, reply.payload.decode()


def _security(admin: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """`apex admin security --json` against the sidecar's admin listener."""
    capsys.readouterr()
    assert apex(["admin", "--admin", admin, "--json", "security"]) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


@TRANSPORTS
def test_sidecars_talk_mtls_with_certificates_from_the_mesh_ca(
    tmp_path: Path,
    redis_url: str,
    echo: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    transport: str,
) -> None:
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text("sidecars:\n  echo: {env: APEX_JOIN_ECHO}\n  caller: {env: APEX_JOIN_CALLER}\n")
    cp_args = ["--auth", str(tokens), "--ca-dir", str(tmp_path / "ca")]
    with (
        ControlPlaneProcess(redis_url, args=cp_args) as cp,
        SidecarProcess(_echo_sidecar(echo.address, cp.address, transport), env=TOKENS) as server_side,
    ):
        inbound = server_side["inbound"]
        with SidecarProcess(_caller_sidecar(inbound, cp.address, transport), env=TOKENS) as client_side:
            # Both ask the CA over their control streams; calls succeed once both hold certificates.
            wait_for(
                lambda: _unary(client_side["outbound"])[0] is grpc.StatusCode.OK,
                timeout=20,
                what="an mTLS call through both sidecars",
            )
            assert _unary(client_side["outbound"]) == (grpc.StatusCode.OK, "mtls")
            # A cluster expecting another upstream identity refuses this server (its certificate names echo):
            # grpc checks the identity's own DNS SAN (other.default.mesh.cluster.local) in the handshake, h2
            # the SPIFFE ID after it.
            code, details = _unary(client_side["outbound"], (("x-expect", "other"),))
            assert code is grpc.StatusCode.UNAVAILABLE, details
            if transport == "h2":
                assert "presented ['spiffe://cluster.local/ns/default/sa/echo'], not spiffe://" in details
        # A plaintext caller (no certificate) never gets through the strict listener.
        code, _ = _unary(inbound)
        assert code is grpc.StatusCode.UNAVAILABLE
        # `apex admin security`: who the sidecar is, its certificate from the CA, who called it.
        status = _security(server_side["admin"], capsys)
        assert status["identity"] == "spiffe://cluster.local/ns/default/sa/echo"
        cert = status["certificate"]
        assert cert["identity"] == status["identity"] and cert["generation"] >= 1 and cert["serial"]
        assert cert["not_before"] < cert["renew_at"] < cert["not_after"] and "key" not in json.dumps(status)
        inbound_status = status["listeners"]["inbound"]
        calls = inbound_status["accepted"]["mtls"]
        assert inbound_status["mode"] == "strict" and calls >= 2
        assert inbound_status["principals"] == {CALLER_ID: calls} and inbound_status["rejected"] == {}
        if transport == "h2":  # the h2 listener counts the plaintext caller's failed handshakes (grpc: no hook)
            assert sum(inbound_status["handshake_failures"].values()) >= 1, inbound_status
        assert apex(["admin", "--admin", server_side["admin"], "security"]) == 0
        shown = capsys.readouterr().out
        assert f"listener inbound: mtls strict; calls accepted: mtls {calls}\n  {CALLER_ID}: {calls} calls" in shown
        log = server_side.log()
        assert '"principal":"spiffe://cluster.local/ns/default/sa/caller"' in log
        assert TOKENS["APEX_JOIN_ECHO"] not in log
        # After the first certificate, the certificate is the sidecar's control-plane credential.
        assert "(certificate spiffe://cluster.local/ns/default/sa/echo)" in log


@_one_transport_in_make_test("grpc")
def test_certificates_from_the_ca_renew_before_expiry_with_zero_failed_calls(
    tmp_path: Path, redis_url: str, echo: Any, monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text("sidecars:\n  echo: {env: APEX_JOIN_ECHO}\n  caller: {env: APEX_JOIN_CALLER}\n")
    args = ["--auth", str(tokens), "--ca-dir", str(tmp_path / "ca"), "--certificate-ttl", "3s"]
    with (
        ControlPlaneProcess(redis_url, args=args) as cp,
        SidecarProcess(_echo_sidecar(echo.address, cp.address, transport), env=TOKENS) as server_side,
    ):
        with SidecarProcess(_caller_sidecar(server_side["inbound"], cp.address, transport), env=TOKENS) as client_side:
            outbound = client_side["outbound"]
            wait_for(lambda: _unary(outbound)[0] is grpc.StatusCode.OK, timeout=20, what="the first mTLS call")
            failures: list[str] = []
            with grpc.insecure_channel(outbound) as channel:
                stub = echo_pb2_grpc.EchoStub(channel)
                deadline = time.monotonic() + 5  # over three 3 s certificates' half-lives (renewed at half-life)
                calls = 0
                while time.monotonic() < deadline:
                    try:
                        stub.Unary(echo_pb2.EchoRequest(payload=b"r"), timeout=5)
                    except grpc.RpcError as exc:
                        failures.append(f"{exc.code().name}: {exc.details()}")
                    calls += 1
            assert failures == []
            assert calls > 100
        renewals = server_side.log().count("workload certificate in force")
        assert renewals >= 3, server_side.log()[-2000:]


@_one_transport_in_make_test("h2")
def test_ca_rotation_reaches_the_sidecars_with_zero_failed_calls(
    tmp_path: Path,
    redis_url: str,
    echo: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    transport: str,
) -> None:
    alice = "alice-token-0123456789abcdef"
    for name, value in {**TOKENS, "APEX_TOKEN_ALICE": alice}.items():
        monkeypatch.setenv(name, value)
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(
        "sidecars:\n  echo: {env: APEX_JOIN_ECHO}\n  caller: {env: APEX_JOIN_CALLER}\n"
        "operators:\n  alice@corp: {env: APEX_TOKEN_ALICE}\n"
    )
    args = ["--auth", str(tokens), "--ca-dir", str(tmp_path / "ca"), "--certificate-ttl", "3s"]
    cp = ControlPlaneProcess(redis_url, args=args)  # started once, by the `with` below

    def ca(action: str, token: str = alice) -> tuple[int, str, str]:
        """`apex ca ACTION` in this process (main(), as the console script runs it): (exit code, stdout, stderr)."""
        monkeypatch.setenv("APEX_TOKEN", token)
        capsys.readouterr()
        code = apex(["ca", action, "--control-plane", cp.address])
        out, err = capsys.readouterr()
        return code, out, err

    with cp, SidecarProcess(_echo_sidecar(echo.address, cp.address, transport), env=TOKENS) as server_side:
        with SidecarProcess(_caller_sidecar(server_side["inbound"], cp.address, transport), env=TOKENS) as client_side:
            outbound = client_side["outbound"]
            wait_for(lambda: _unary(outbound)[0] is grpc.StatusCode.OK, timeout=20, what="the first mTLS call")
            assert ca("rotate", TOKENS["APEX_JOIN_ECHO"])[0] == 1  # a sidecar's token may not
            failures: list[str] = []
            calls = 0
            with grpc.insecure_channel(outbound) as channel:
                stub = echo_pb2_grpc.EchoStub(channel)

                def run_for(seconds: float) -> None:
                    nonlocal calls
                    end = time.monotonic() + seconds
                    while time.monotonic() < end:
                        try:
                            stub.Unary(echo_pb2.EchoRequest(payload=b"r"), timeout=5)
                        except grpc.RpcError as exc:
                            failures.append(f"{phase[0]} {calls}: {exc.code().name}: {exc.details()}")
                        calls += 1

                phase = ["rotated"]
                code, out, err = ca("rotate")
                assert code == 0, err
                assert out.count("\n") == 3, out  # the header, the signing root and the old one
                run_for(5)  # longer than a certificate lifetime: every workload renewed under the new root
                phase[0] = "retired"
                code, out, err = ca("retire")
                assert code == 0 and out.count("\n") == 2, err
                run_for(3)
            assert failures == [], failures[:3]
            assert calls > 100
        assert "trust bundle updated by the control plane" in server_side.log()
