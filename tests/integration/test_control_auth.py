"""The control plane knows who it talks to: the issue-14 hijack fails, audit authors are principals,
the CA signs only the authenticated identity, and a planted secret shows up in no output. After its
first certificate a sidecar's credential is that certificate, on the control plane's mTLS port."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import redis
from apex.mesh.security.pki import csr_for, identity_of, key_pem, load_certs, new_key
from apex.mesh.security.spiffe import SpiffeId, control_plane_server_name
from apex.mesh.v1 import config_pb2, control_pb2, control_pb2_grpc

from engines.security.ca import MeshCA
from sidecar.support.redis_server import RedisServer
from sidecar.support.sidecar_proc import SidecarProcess
from tests.support.control_plane_proc import ControlPlaneProcess, wait_for

pytestmark = pytest.mark.integration

ECHO_TOKEN = "join-echo-0123456789abcdef"
SHOP_TOKEN = "join-shop-0123456789abcdef"
ALICE_TOKEN = "alice-0123456789abcdef0123"
PLANTED = "PlantedRedisPassw0rd-7f3a9c"


@pytest.fixture
def secured(
    tmp_path: Path, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ControlPlaneProcess]:
    """A control plane started the secure way: tokens by reference, the Redis password by reference."""
    redis.Redis.from_url(redis_server.url).config_set("requirepass", PLANTED)
    host_port = redis_server.url.split("://", 1)[1].split("/", 1)[0]
    monkeypatch.setenv("APEX_TEST_REDIS_URL", f"redis://:{PLANTED}@{host_port}/0")
    monkeypatch.setenv("APEX_JOIN_ECHO", ECHO_TOKEN)
    monkeypatch.setenv("APEX_TOKEN_ALICE", ALICE_TOKEN)
    (tmp_path / "shop.token").write_text(SHOP_TOKEN + "\n")
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(
        "sidecars:\n"
        "  echo: {env: APEX_JOIN_ECHO}\n"
        f"  shop: {{file: {tmp_path / 'shop.token'}}}\n"
        "operators:\n"
        "  alice@corp: {env: APEX_TOKEN_ALICE}\n"
    )
    cp = ControlPlaneProcess(
        "env:APEX_TEST_REDIS_URL",
        args=["--auth", str(tokens), "--ca-dir", str(tmp_path / "ca"), "--log-level", "DEBUG"],
    )
    with cp:
        yield cp


def _metadata(token: str) -> tuple[tuple[str, str], ...] | None:
    return (("authorization", f"Bearer {token}"),) if token else None


def _stream(
    address: str, token: str, *messages: control_pb2.SidecarMessage
) -> tuple[grpc.StatusCode, list[control_pb2.ControlMessage]]:
    """Open a control stream, send `messages`, read what comes back until the first policy/cert answers."""
    with grpc.insecure_channel(address) as channel:
        stub = control_pb2_grpc.ControlPlaneStub(channel)
        call = stub.Stream(iter(messages), metadata=_metadata(token), timeout=3)
        got: list[control_pb2.ControlMessage] = []
        try:
            for message in call:
                got.append(message)
        except grpc.RpcError as exc:
            if exc.code() is grpc.StatusCode.DEADLINE_EXCEEDED:
                return grpc.StatusCode.OK, got
            return exc.code(), got
        return grpc.StatusCode.OK, got


def _hello(service: str, instance: str) -> control_pb2.SidecarMessage:
    return control_pb2.SidecarMessage(
        hello=control_pb2.Hello(service=service, instance=instance, inbound_address="127.0.0.1:9")
    )


def test_the_hijack_fails_and_the_audit_records_the_principal(secured: ControlPlaneProcess) -> None:
    address = secured.address
    # A fake sidecar with no credential cannot register.
    code, _ = _stream(address, "", _hello("echo", "echo-evil"))
    assert code is grpc.StatusCode.UNAUTHENTICATED
    code, _ = _stream(address, "guessed-token-000000000000", _hello("echo", "echo-evil"))
    assert code is grpc.StatusCode.UNAUTHENTICATED
    # Another service's join token cannot register echo.
    code, _ = _stream(address, SHOP_TOKEN, _hello("echo", "echo-evil"))
    assert code is grpc.StatusCode.PERMISSION_DENIED
    # The real echo registers; shop cannot take its instance id over.
    csr_key = new_key()
    csr = control_pb2.SidecarMessage(
        certificate_request=control_pb2.CertificateRequest(
            csr=csr_for(csr_key, SpiffeId("cluster.local", "default", "echo"))
        )
    )
    code, got = _stream(address, ECHO_TOKEN, _hello("echo", "echo-1"), csr)
    assert code is grpc.StatusCode.OK
    certs = [m.certificate for m in got if m.WhichOneof("kind") == "certificate"]
    assert certs and not certs[0].error
    leaf = load_certs(certs[0].certificate_chain)[0]
    assert str(identity_of(leaf)) == "spiffe://cluster.local/ns/default/sa/echo"
    code, _ = _stream(address, SHOP_TOKEN, _hello("shop", "echo-1"))
    assert code is grpc.StatusCode.PERMISSION_DENIED
    # echo's token cannot get a certificate for another identity.
    bad = control_pb2.SidecarMessage(
        certificate_request=control_pb2.CertificateRequest(
            csr=csr_for(new_key(), SpiffeId("cluster.local", "default", "payments"))
        )
    )
    _, got = _stream(address, ECHO_TOKEN, _hello("echo", "echo-2"), bad)
    errors = [m.certificate.error for m in got if m.WhichOneof("kind") == "certificate"]
    assert errors and "asks for spiffe://cluster.local/ns/default/sa/payments" in errors[0]

    # Operators authenticate; a forged author is replaced by the token's principal.
    with grpc.insecure_channel(address) as channel:
        admin = control_pb2_grpc.PolicyAdminStub(channel)
        policy = config_pb2.Policy(version="v1")
        change = control_pb2.Change(
            author="ceo@corp", reason="forged", expected_version=0, source=control_pb2.FORECASTER
        )
        request = control_pb2.SetPolicyRequest(service="echo", policy=policy, change=change)
        with pytest.raises(grpc.RpcError) as no_token:
            admin.SetPolicy(request, timeout=5)
        assert no_token.value.code() is grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as as_sidecar:
            admin.SetPolicy(request, timeout=5, metadata=_metadata(ECHO_TOKEN))
        assert as_sidecar.value.code() is grpc.StatusCode.PERMISSION_DENIED
        record = admin.SetPolicy(request, timeout=5, metadata=_metadata(ALICE_TOKEN))
        assert record.author == "alice@corp"
        history = admin.History(control_pb2.HistoryRequest(service="echo"), timeout=5, metadata=_metadata(ALICE_TOKEN))
        assert [r.author for r in history.records] == ["alice@corp"]
    # The planted Redis password is in no output: the DEBUG log, the command line.
    log = secured.log()
    assert "ready on" in log and PLANTED not in log
    assert secured.proc is not None
    cmdline = Path(f"/proc/{secured.proc.pid}/cmdline").read_bytes().decode()
    assert "env:APEX_TEST_REDIS_URL" in cmdline and PLANTED not in cmdline
    for token in (ECHO_TOKEN, SHOP_TOKEN, ALICE_TOKEN):
        assert token not in log and token not in cmdline


def test_the_control_plane_refuses_to_start_without_authentication() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sidecar", "control-plane", "--listen", "127.0.0.1:0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2
    assert "refusing to start without authentication" in done.stderr and "--insecure" in done.stderr


def test_insecure_says_so_loudly(redis_url: str) -> None:
    with ControlPlaneProcess(redis_url) as cp:  # the support helper passes --insecure
        assert "INSECURE: --insecure given" in cp.log()


# ---- after the first certificate: the mTLS port, the certificate as the credential -------------------

Pem = tuple[bytes, bytes, bytes]  # chain, key, bundle


def _mtls_stream(
    address: str, pem: Pem | None, bundle: bytes, *messages: control_pb2.SidecarMessage
) -> tuple[grpc.StatusCode, str]:
    """A control stream on the mTLS port presenting `pem` (None: no client certificate); OK when it stays open."""
    creds = grpc.ssl_channel_credentials(bundle, pem[1], pem[0]) if pem else grpc.ssl_channel_credentials(bundle)
    options = (("grpc.ssl_target_name_override", control_plane_server_name("cluster.local")),)
    with grpc.secure_channel(address, creds, options=options) as channel:
        call = control_pb2_grpc.ControlPlaneStub(channel).Stream(iter(messages), timeout=1.5)
        try:
            for _ in call:
                pass
        except grpc.RpcError as exc:
            if exc.code() is grpc.StatusCode.DEADLINE_EXCEEDED:
                return grpc.StatusCode.OK, ""
            return exc.code(), exc.details() or ""
        return grpc.StatusCode.OK, ""


def _certificate(ca: MeshCA, service: str, now: float, ttl: float) -> Pem:
    key = new_key()
    identity = SpiffeId("cluster.local", "default", service)
    issued = ca.sign(csr_for(key, identity), identity, now, ttl)
    return issued.chain_pem, key_pem(key), issued.bundle_pem


def _control_status(admin: str) -> control_pb2.SidecarControlStatus:
    with grpc.insecure_channel(admin) as channel:
        stub = control_pb2_grpc.SidecarControlStub(channel)
        return stub.GetControlStatus(control_pb2.GetControlStatusRequest(), timeout=5)


def _echo_sidecar(upstream: str, cp: str) -> dict[str, Any]:
    return {
        "node": {"service": "echo", "instance": "echo-1"},
        "control_plane": cp,
        "security": {"join_token": {"env": "APEX_JOIN_ECHO"}},
        "admin": {"address": "127.0.0.1:0"},
        "listeners": [{"name": "inbound", "address": "127.0.0.1:0", "direction": "INBOUND"}],
        "policy": {
            "route_tables": [{"name": "inbound", "routes": [{"name": "local", "cluster": "local"}]}],
            "clusters": [{"name": "local", "endpoints": [{"address": upstream}]}],
        },
    }


def test_after_its_first_certificate_a_sidecar_registers_with_it_on_the_mtls_port(
    tmp_path: Path, redis_url: str, echo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APEX_JOIN_ECHO", ECHO_TOKEN)
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text("sidecars:\n  echo: {env: APEX_JOIN_ECHO}\n")
    ca_dir = tmp_path / "ca"
    # A lease longer than a loaded machine's control-plane restart, for the restart at the end.
    args = ["--auth", str(tokens), "--ca-dir", str(ca_dir), "--certificate-ttl", "4s", "--instance-lease", "30s"]
    with (
        ControlPlaneProcess(redis_url, args=args) as cp,
        SidecarProcess(_echo_sidecar(echo.address, cp.address), env={"APEX_JOIN_ECHO": ECHO_TOKEN}) as sidecar,
    ):
        mtls = json.loads(cp.ports_path.read_text())["control_plane_mtls"]
        assert mtls != cp.address
        # First registration with the join token, a certificate from the CA, then the mTLS port.
        status = wait_for(
            lambda: (s := _control_status(sidecar["admin"])).connected and s.credential.startswith("certificate") and s,
            timeout=15,
            what="the sidecar on the mTLS port",
        )
        assert status.credential == "certificate spiffe://cluster.local/ns/default/sa/echo"
        assert status.address == mtls
        # Its 4 s certificate renews over the mTLS stream (at half-life).
        wait_for(
            lambda: "(instance echo-1, stream authenticated by certificate)" in cp.log(),
            timeout=10,
            what="a renewal over the mTLS stream",
        )
        # The join token, alone, can no longer take its instance id.
        with grpc.insecure_channel(cp.address) as channel:
            call = control_pb2_grpc.ControlPlaneStub(channel).Stream(
                iter([_hello("echo", "echo-1")]), metadata=_metadata(ECHO_TOKEN), timeout=5
            )
            with pytest.raises(grpc.RpcError) as taken:
                list(call)
        assert taken.value.code() is grpc.StatusCode.PERMISSION_DENIED
        assert "instance 'echo-1' is bound to a workload certificate and its registration is live (lease 30s)" in (
            taken.value.details() or ""
        )
        assert dict(taken.value.trailing_metadata() or ())["apex-mtls-address"] == ":" + mtls.rpartition(":")[2]

        ca = MeshCA.load(str(ca_dir), "cluster.local")
        bundle = ca.bundle_pem()
        echo_cert = _certificate(ca, "echo", time.time(), 60)
        # An echo certificate registers a fresh echo instance (the positive control) ...
        assert _mtls_stream(mtls, echo_cert, bundle, _hello("echo", "echo-t")) == (grpc.StatusCode.OK, "")
        # ... but not service shop, and not the instance id bound to the sidecar's own key.
        code, details = _mtls_stream(mtls, echo_cert, bundle, _hello("shop", "shop-1"))
        assert code is grpc.StatusCode.PERMISSION_DENIED
        assert "spiffe://cluster.local/ns/default/sa/echo may not register service 'shop'" in details
        code, details = _mtls_stream(mtls, echo_cert, bundle, _hello("echo", "echo-1"))
        assert (
            code is grpc.StatusCode.PERMISSION_DENIED and "instance 'echo-1' is held by another certificate" in details
        )
        # Refused in the handshake: another CA's certificate, an expired one, none at all.
        stranger = _certificate(MeshCA.create("cluster.local", time.time()), "echo", time.time(), 60)
        expired = _certificate(ca, "echo", time.time() - 3600, 60)
        for pem in (stranger, expired, None):
            code, _ = _mtls_stream(mtls, pem, bundle, _hello("echo", "echo-x"))
            assert code is grpc.StatusCode.UNAVAILABLE
        # Through all of it the sidecar kept its one mTLS stream (the token stream, then this one).
        status = _control_status(sidecar["admin"])
        assert (status.connected, status.address, status.connects) == (True, mtls, 2)
        # A restarted control plane binds a new mTLS port: the sidecar's token stream is refused (its id is
        # held) with the new port in the trailing metadata, and it comes back there with its certificate.
        cp.stop()
        cp.start()
        moved = json.loads(cp.ports_path.read_text())["control_plane_mtls"]
        # Normally back within a second or two; but when a loaded machine makes the restart outlast the 4 s
        # certificate, the sidecar holds only its token, which may not take its own bound id back until the
        # 30 s lease lapses: then it registers with the token, gets a certificate and moves to mTLS.
        wait_for(
            lambda: (s := _control_status(sidecar["admin"])).connected and s.address == moved,
            timeout=60,
            what="the sidecar on the restarted control plane's mTLS port",
        )
        assert "the control plane's mTLS port is now :" + moved.rpartition(":")[2] in sidecar.log()
        assert ECHO_TOKEN not in cp.log() and ECHO_TOKEN not in sidecar.log()
