"""The control plane knows who it talks to: the issue-14 hijack fails, audit authors are principals,
the CA signs only the authenticated identity, and a planted secret shows up in no output."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import redis
from apex.mesh.security.pki import csr_for, identity_of, load_certs, new_key
from apex.mesh.security.spiffe import SpiffeId
from apex.mesh.v1 import config_pb2, control_pb2, control_pb2_grpc

from sidecar.support.redis_server import RedisServer
from tests.support.control_plane_proc import ControlPlaneProcess

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
