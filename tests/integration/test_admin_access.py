"""The admin listener binds loopback unless it authenticates its callers: a token, or mTLS.

Config validation refuses a non-loopback admin address without either (naming the field); a real
sidecar with a token answers health probes without it and everything else only with it (the CLI
sends $APEX_ADMIN_TOKEN); a sidecar with admin mTLS serves only callers with a mesh certificate."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from apex.mesh.security.spiffe import mesh_server_name
from apex.mesh.v1 import admin_pb2, admin_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from engines.security.ca import MeshCA
from sidecar.config.bootstrap import parse_yaml, validate
from sidecar.policy.errors import ConfigError
from sidecar.support.sidecar_proc import SidecarProcess, proxy_config
from tests.unit.security.pki_helpers import TD, issued

pytestmark = pytest.mark.integration

ADMIN_TOKEN = "admin-token-7f3e9c2b1a"


def _validate(admin: dict[str, Any], security: bool = False) -> Any:
    config = proxy_config("127.0.0.1:1", admin=False)
    config["admin"] = admin
    if security:
        config["security"] = {"certificate_files": {"certificate": "c", "private_key": "k", "trust_bundle": "b"}}
    return validate(parse_yaml(yaml.safe_dump(config), "sidecar.yaml"), "sidecar.yaml")


def test_a_non_loopback_admin_address_needs_a_token_or_mtls() -> None:
    with pytest.raises(ConfigError) as err:
        _validate({"address": "0.0.0.0:9901"})
    assert err.value.field == "admin.address"
    assert "binds 0.0.0.0:9901 (not loopback) without authentication: set admin.token" in str(err.value)
    with pytest.raises(ConfigError, match=r"admin\.address.*not loopback"):
        _validate({"address": "10.1.2.3:9901"})
    assert _validate({"address": "127.0.0.1:9901"}).admin_access.open
    assert str(_validate({"address": ":9901"}).admin) == "127.0.0.1:9901"  # a port alone binds loopback
    assert _validate({"address": "0.0.0.0:9901", "token": {"env": "T"}}).admin_access.token == {"env": "T"}
    assert _validate({"address": "0.0.0.0:9901", "mtls": "strict"}, security=True).admin_access.mtls
    with pytest.raises(ConfigError, match=r"admin\.mtls: admin mTLS needs a `security` section"):
        _validate({"address": "0.0.0.0:9901", "mtls": "strict"})
    with pytest.raises(ConfigError, match=r"admin\.mtls: admin mTLS is 'permissive'"):
        _validate({"address": "0.0.0.0:9901", "mtls": "permissive"}, security=True)
    with pytest.raises(ConfigError, match=r"admin\.token: a secret reference names exactly one"):
        _validate({"address": "0.0.0.0:9901", "token": {}})


def _cli(admin: str, what: str, token: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "APEX_ADMIN_TOKEN"}
    if token is not None:
        env["APEX_ADMIN_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "sidecar", "admin", "--admin", admin, what],
                          capture_output=True, text=True, timeout=30, env=env)  # fmt: skip


def test_a_token_guards_every_admin_call_but_health(echo: Any) -> None:
    config = proxy_config(echo.address, admin=False)
    config["admin"] = {"address": "0.0.0.0:0", "token": {"env": "APEX_TEST_ADMIN_TOKEN"}}
    with SidecarProcess(config, env={"APEX_TEST_ADMIN_TOKEN": ADMIN_TOKEN}) as sidecar:
        admin = "127.0.0.1:" + sidecar["admin"].rpartition(":")[2]
        assert _cli(admin, "health", None).returncode == 0  # probes need no token
        refused = _cli(admin, "config", None)
        assert refused.returncode != 0 and "UNAUTHENTICATED" in refused.stderr
        assert "requires `authorization: Bearer <token>`" in refused.stderr
        wrong = _cli(admin, "config", "not-the-token")
        assert wrong.returncode != 0 and "wrong admin token" in wrong.stderr
        done = _cli(admin, "config", ADMIN_TOKEN)
        assert done.returncode == 0, done.stderr
        assert "listeners" in done.stdout and ADMIN_TOKEN not in done.stdout
        sidecar.stop()
        assert "admin refused" in sidecar.log() and ADMIN_TOKEN not in sidecar.log()


def test_admin_mtls_serves_only_callers_with_a_mesh_certificate(echo: Any, tmp_path: Path) -> None:
    now = time.time()
    ca = MeshCA.create(TD, now)
    server = issued(ca, "echo", now)
    paths = {}
    for name, data in (("cert.pem", server.chain_pem), ("key.pem", server.key_pem), ("ca.pem", ca.bundle_pem())):
        (tmp_path / name).write_bytes(data)
        paths[name] = str(tmp_path / name)
    config = proxy_config(echo.address, admin=False)
    config["security"] = {"certificate_files": {
        "certificate": paths["cert.pem"], "private_key": paths["key.pem"], "trust_bundle": paths["ca.pem"]}}
    config["admin"] = {"address": "0.0.0.0:0", "mtls": "strict",
                       "allowed_principals": ["spiffe://cluster.local/ns/default/sa/operator"]}  # fmt: skip
    with SidecarProcess(config) as sidecar:
        admin = "127.0.0.1:" + sidecar["admin"].rpartition(":")[2]
        options = (("grpc.ssl_target_name_override", mesh_server_name(TD)),)

        def ask(material: Any) -> grpc.StatusCode:
            if material is None:
                channel = grpc.insecure_channel(admin)
            else:
                creds = grpc.ssl_channel_credentials(ca.bundle_pem(), material.key_pem, material.chain_pem)
                channel = grpc.secure_channel(admin, creds, options=options)
            with channel:
                try:
                    admin_pb2_grpc.AdminStub(channel).GetConfig(admin_pb2.GetConfigRequest(), timeout=5)
                except grpc.RpcError as exc:
                    return exc.code()
                return grpc.StatusCode.OK

        assert ask(issued(ca, "operator", now)) is grpc.StatusCode.OK
        assert ask(issued(ca, "intruder", now)) is grpc.StatusCode.PERMISSION_DENIED  # not an allowed principal
        assert ask(None) is grpc.StatusCode.UNAVAILABLE  # plaintext: no handshake
        stranger = MeshCA.create(TD, now)
        assert ask(issued(stranger, "operator", now)) is grpc.StatusCode.UNAVAILABLE  # another CA
        creds = grpc.ssl_channel_credentials(ca.bundle_pem(), *(lambda m: (m.key_pem, m.chain_pem))(
            issued(ca, "operator", now)))  # fmt: skip
        with grpc.secure_channel(admin, creds, options=options) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_an_admin_token_that_does_not_resolve_stops_the_sidecar_naming_it(echo: Any) -> None:
    config = proxy_config(echo.address, admin=False)
    config["admin"] = {"address": "0.0.0.0:0", "token": {"env": "APEX_TEST_ADMIN_TOKEN_UNSET"}}
    proc = SidecarProcess(config)
    try:
        with pytest.raises(RuntimeError) as err:
            proc.start()
    finally:
        proc.close()
    assert "sidecar exited with 2" in str(err.value)
    assert "admin.token: secret env:APEX_TEST_ADMIN_TOKEN_UNSET: environment variable" in str(err.value)
