"""The admin listener binds loopback unless it authenticates its callers: a token, or mTLS.

Config validation refuses a non-loopback admin address without either (naming the field); a real
sidecar with a token answers health probes without it and everything else only with it (the CLI
sends $APEX_ADMIN_TOKEN); a sidecar with admin mTLS serves only callers with a mesh certificate."""

from __future__ import annotations

import http.client
import socket
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from apex.mesh.security.spiffe import mesh_server_name
from apex.mesh.v1 import admin_pb2, admin_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from engines.security.ca import MeshCA
from sidecar.cli import main as apex
from sidecar.config.bootstrap import parse_yaml, validate
from sidecar.policy.errors import ConfigError
from sidecar.support.sidecar_proc import SidecarProcess, proxy_config
from tests.unit.security.pki_helpers import TD, issued

pytestmark = pytest.mark.integration

ADMIN_TOKEN = "admin-token-7f3e9c2b1a"
METRICS_TOKEN = "metrics-token-40c9e1d2b6"


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


class _Cli:
    """`apex admin --admin ADDRESS WHAT` run in this process (main(), as the console script does) with
    $APEX_ADMIN_TOKEN set to `token` or unset: (exit code, stdout, stderr)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        self.monkeypatch, self.capsys = monkeypatch, capsys

    def __call__(self, admin: str, what: str, token: str | None) -> tuple[int, str, str]:
        if token is None:
            self.monkeypatch.delenv("APEX_ADMIN_TOKEN", raising=False)
        else:
            self.monkeypatch.setenv("APEX_ADMIN_TOKEN", token)
        self.capsys.readouterr()
        code = apex(["admin", "--admin", admin, what])
        out, err = self.capsys.readouterr()
        return code, out, err


def _scrape(address: str, token: str | None, method: str = "GET") -> tuple[int, str, str]:
    """(status, body, WWW-Authenticate) of /metrics over plain HTTP."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    request = urllib.request.Request(f"http://{address}/metrics", headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode(), ""
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), exc.headers.get("WWW-Authenticate", "")


def _series(text: str, prefix: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith(prefix)
    }


def test_a_token_guards_every_admin_call_but_health(
    echo: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = _Cli(monkeypatch, capsys)
    config = proxy_config(echo.address, admin=False)
    config["admin"] = {"address": "0.0.0.0:0", "token": {"env": "APEX_TEST_ADMIN_TOKEN"}}
    config["metrics"] = {"address": "0.0.0.0:0", "token": {"env": "APEX_TEST_METRICS_TOKEN"}}
    env = {"APEX_TEST_ADMIN_TOKEN": ADMIN_TOKEN, "APEX_TEST_METRICS_TOKEN": METRICS_TOKEN}
    with SidecarProcess(config, env=env) as sidecar:
        admin = "127.0.0.1:" + sidecar["admin"].rpartition(":")[2]
        # No identity configured: cryptography (~10 MB) is not loaded (docs/data-plane.md, "Memory").
        assert sidecar.proc is not None and "/cryptography/" not in Path(f"/proc/{sidecar.proc.pid}/maps").read_text()
        assert cli(admin, "health", None)[0] == 0  # probes need no token
        code, _, err = cli(admin, "config", None)
        assert code != 0 and "UNAUTHENTICATED" in err
        assert "requires `authorization: Bearer <token>`" in err
        code, _, err = cli(admin, "config", "not-the-token")
        assert code != 0 and "wrong admin token" in err
        code, out, err = cli(admin, "config", ADMIN_TOKEN)
        assert code == 0, err
        assert "listeners" in out and ADMIN_TOKEN not in out
        # The metrics listener, bound off loopback with its own token: 401 without it or with another.
        metrics = "127.0.0.1:" + sidecar["metrics"].rpartition(":")[2]
        assert _scrape(metrics, None) == (
            401,
            "apex: the metrics listener requires `authorization: Bearer <token>`\n",
            'Bearer realm="apex metrics"',
        )
        assert _scrape(metrics, ADMIN_TOKEN) == (
            401, "apex: wrong metrics token\n", 'Bearer realm="apex metrics"')  # fmt: skip
        assert _scrape(metrics, None, "HEAD")[0] == 401
        status, text, _ = _scrape(metrics, METRICS_TOKEN)
        assert status == 200 and "apex_route_requests_total" in text
        assert _series(text, "apex_access_") == {
            ("apex_access_refused_total", (("listener", "admin"), ("reason", "no_token"))): 1,
            ("apex_access_refused_total", (("listener", "admin"), ("reason", "wrong_token"))): 1,
            ("apex_access_refused_total", (("listener", "metrics"), ("reason", "no_token"))): 2,  # GET and HEAD
            ("apex_access_refused_total", (("listener", "metrics"), ("reason", "wrong_token"))): 1,
        }
        assert ADMIN_TOKEN not in text and METRICS_TOKEN not in text
        sidecar.stop()
        log = sidecar.log()
        assert "admin refused" in log and "metrics refused" in log
        assert ADMIN_TOKEN not in log and METRICS_TOKEN not in log


def test_admin_mtls_serves_only_callers_with_a_mesh_certificate(echo: Any, tmp_path: Path) -> None:
    now = time.time()
    ca = MeshCA.create(TD, now)
    server = issued(ca, "echo", now)
    paths = {}
    for name, data in (("cert.pem", server.chain_pem), ("key.pem", server.key_pem), ("ca.pem", ca.bundle_pem())):
        (tmp_path / name).write_bytes(data)
        paths[name] = str(tmp_path / name)
    config = proxy_config(echo.address, admin=False)
    config["security"] = {
        "certificate_files": {
            "certificate": paths["cert.pem"],
            "private_key": paths["key.pem"],
            "trust_bundle": paths["ca.pem"],
        }
    }
    config["admin"] = {"address": "0.0.0.0:0", "mtls": "strict",
                       "allowed_principals": ["spiffe://cluster.local/ns/default/sa/operator"]}  # fmt: skip
    config["metrics"] = {"address": "0.0.0.0:0", "mtls": "strict",
                         "allowed_principals": ["spiffe://cluster.local/ns/monitoring/sa/prometheus"]}  # fmt: skip
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

        # The metrics listener under mTLS: HTTPS with the workload certificate; Prometheus presents its own.
        metrics = "127.0.0.1:" + sidecar["metrics"].rpartition(":")[2]
        prometheus = issued(ca, "prometheus", now, "monitoring")
        assert _https_scrape(metrics, ca.bundle_pem(), prometheus, tmp_path)[0] == 200
        status, body = _https_scrape(metrics, ca.bundle_pem(), issued(ca, "grafana", now, "monitoring"), tmp_path)
        assert (status, body) == (403, "apex: peer spiffe://cluster.local/ns/monitoring/sa/grafana is not allowed "
                                       "on this listener\n")  # fmt: skip
        for refused in (None, issued(stranger, "prometheus", now, "monitoring")):  # no certificate, another CA
            with pytest.raises(OSError):
                _https_scrape(metrics, ca.bundle_pem(), refused, tmp_path)
        with pytest.raises((OSError, http.client.HTTPException)):  # plaintext HTTP: the handshake fails
            urllib.request.urlopen(f"http://{metrics}/metrics", timeout=10)
        status, text = _https_scrape(metrics, ca.bundle_pem(), prometheus, tmp_path)
        assert status == 200
        series = _series(text, "apex_access_")
        assert series == {
            ("apex_access_refused_total", (("listener", "admin"), ("reason", "not_allowed"))): 1,
            ("apex_access_refused_total", (("listener", "metrics"), ("reason", "not_allowed"))): 1,
            ("apex_access_handshake_failures_total", (("listener", "metrics"), ("reason", "no_client_certificate"))): 1,
            ("apex_access_handshake_failures_total", (("listener", "metrics"), ("reason", "not_tls"))): 1,
            ("apex_access_handshake_failures_total", (("listener", "metrics"), ("reason", "unknown_ca"))): 1,
        }
        assert _series(text, "apex_workload_") == {
            ("apex_workload_identity_info", (("identity", "spiffe://cluster.local/ns/default/sa/echo"),)): 1,
            ("apex_workload_certificate_generation", ()): 1,
            ("apex_workload_certificate_rotations_total", ()): 0,
            ("apex_workload_certificate_expiry_seconds", ()): server.not_after,
        }


def _https_scrape(address: str, bundle: bytes, material: Any, tmp_path: Path) -> tuple[int, str]:
    """GET /metrics over TLS as Prometheus does with `tls_config` (server_name mesh.<trust domain>),
    presenting `material`'s certificate (None: none); OSError when the handshake is refused."""
    context = ssl.create_default_context(cadata=bundle.decode())
    if material is not None:
        chain, key = tmp_path / "scraper.pem", tmp_path / "scraper.key"
        chain.write_bytes(material.chain_pem)
        key.write_bytes(material.key_pem)
        context.load_cert_chain(chain, key)
    host, _, port = address.rpartition(":")
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=mesh_server_name(TD)) as tls,
    ):
        tls.sendall(b"GET /metrics HTTP/1.1\r\nHost: sidecar\r\n\r\n")
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    if not data:
        raise ConnectionResetError("closed without an answer")
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body.decode()


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
