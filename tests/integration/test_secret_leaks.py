"""Planted secrets show in no output. A Redis password, given inline (legacy) or by reference: not in
`apex admin config` (text and JSON), DEBUG logs, the command line. The OAuth2 client secret, the access
tokens it buys, the admin token and the at-rest key: not in the admin dump and stats, DEBUG logs,
/metrics, the telemetry streams, the policy history, either process's command line or the CA directory."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest
import redis
from apex.mesh.v1 import config_pb2, control_pb2, echo_pb2, echo_pb2_grpc

from sidecar.config.yaml_proto import fill
from sidecar.support.redis_server import RedisServer
from sidecar.support.sidecar_proc import SidecarProcess, proxy_config
from tests.support.control_plane_proc import ControlPlaneProcess
from tests.support.token_server import TokenServer

pytestmark = pytest.mark.integration

PLANTED = "PlantedSidecarPassw0rd-91b2"


@pytest.mark.parametrize("inline", [False, True], ids=["by-reference", "inline"])
def test_a_planted_redis_password_is_in_no_output(redis_server: RedisServer, echo: Any, inline: bool) -> None:
    redis.Redis.from_url(redis_server.url).config_set("requirepass", PLANTED)
    host_port = redis_server.url.split("://", 1)[1].split("/", 1)[0]
    url = f"redis://default:{PLANTED}@{host_port}/0"
    config = proxy_config(echo.address)
    config["telemetry"] = {"redis_url": url if inline else "env:APEX_TEST_REDIS_URL", "window": "0.1s"}
    config["logging"] = {"level": "DEBUG"}
    with SidecarProcess(config, env={"APEX_TEST_REDIS_URL": url}) as sidecar:
        outputs = []
        for extra in ([], ["--json"]):
            done = subprocess.run(
                [sys.executable, "-m", "sidecar", "admin", "--admin", sidecar["admin"], *extra, "config"],
                capture_output=True, text=True, timeout=30,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            outputs.append(done.stdout + done.stderr)
        assert sidecar.proc is not None
        outputs.append(Path(f"/proc/{sidecar.proc.pid}/cmdline").read_bytes().decode(errors="replace"))
        assert "redis_url" in outputs[0]
        sidecar.stop()  # the log is read before the process's directory goes (it used to be read after: empty)
        outputs.append(sidecar.log())
        assert "admin on" in outputs[-1]
    for text in outputs:
        assert PLANTED not in text


OAUTH_SECRET = "PlantedOAuthClientSecret-3c8e"
ADMIN_TOKEN = "PlantedAdminToken-a41f0c7d"
METRICS_TOKEN = "PlantedMetricsToken-9b27e4"
AT_REST_KEY = base64.b64encode(b"PlantedAtRestKey-0123456789abcde").decode()  # 32 bytes
TOKEN_SUFFIX = "PlantedAccessToken-5e2b"  # every access token the endpoint issues ends with it


def _redis_dump(url: str) -> str:
    """Every stream entry in Redis, raw: telemetry windows, events, dead letters."""
    client = redis.Redis.from_url(url)
    out = []
    for key in client.scan_iter("*"):
        if client.type(key) == b"stream":
            out.extend(repr(fields) for _, fields in client.xrange(key))
    return "\n".join(out)


def test_oauth2_secret_tokens_admin_token_and_at_rest_key_are_in_no_output(
    redis_server: RedisServer, echo: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        "APEX_TEST_OAUTH": OAUTH_SECRET,
        "APEX_TEST_ADMIN": ADMIN_TOKEN,
        "APEX_TEST_AT_REST": AT_REST_KEY,
        "APEX_TEST_METRICS": METRICS_TOKEN,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    outputs: dict[str, str] = {}
    with TokenServer("leak-client", OAUTH_SECRET, suffix=TOKEN_SUFFIX) as tokens:
        oauth2 = {"token_url": tokens.url, "client_id": "leak-client", "client_secret": {"env": "APEX_TEST_OAUTH"}}
        config = proxy_config(echo.address, admin=False)
        config["policy"]["route_tables"][1]["routes"][0]["oauth2"] = oauth2
        config["admin"] = {"address": "127.0.0.1:0", "token": {"env": "APEX_TEST_ADMIN"}}
        config["metrics"] = {"address": "127.0.0.1:0", "token": {"env": "APEX_TEST_METRICS"}}
        config["telemetry"] = {"redis_url": redis_server.url, "window": "0.1s"}
        config["logging"] = {"level": "DEBUG"}
        with SidecarProcess(config, env=env) as sidecar:
            with grpc.insecure_channel(sidecar["outbound"]) as channel:
                stub = echo_pb2_grpc.EchoStub(channel)
                for _ in range(5):
                    stub.Unary(echo_pb2.EchoRequest(payload=b"leak"), timeout=5)
            assert tokens.requests == 1  # the token really was fetched and used
            cli_env = {**os.environ, "APEX_ADMIN_TOKEN": "env:APEX_TEST_ADMIN"}
            for what in (["config"], ["--json", "config"], ["stats"]):
                done = subprocess.run(
                    [sys.executable, "-m", "sidecar", "admin", "--admin", sidecar["admin"], *what],
                    capture_output=True, text=True, timeout=30, env=cli_env,
                )  # fmt: skip
                assert done.returncode == 0, done.stderr
                outputs[f"admin {' '.join(what)}"] = done.stdout + done.stderr
            scrape = urllib.request.Request(
                f"http://{sidecar['metrics']}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
            )
            with urllib.request.urlopen(scrape, timeout=5) as answer:
                outputs["/metrics"] = answer.read().decode()
            assert sidecar.proc is not None
            outputs["sidecar ps"] = Path(f"/proc/{sidecar.proc.pid}/cmdline").read_bytes().decode(errors="replace")
            time.sleep(0.5)  # a few telemetry windows
            sidecar.stop()
            outputs["sidecar DEBUG log"] = sidecar.log()
        outputs["telemetry"] = _redis_dump(redis_server.url)
        assert "oauth2" in outputs["admin config"] and "APEX_TEST_OAUTH" in outputs["admin config"]  # the reference
        assert "new access token from" in outputs["sidecar DEBUG log"] and "apex_" in outputs["/metrics"]
        assert "apex_oauth2_token_fetches_total" in outputs["/metrics"]  # the route's token series are there
        assert outputs["telemetry"]  # windows were published

        # The control plane: its CA keys sealed with the at-rest key, a policy holding the OAuth2 reference.
        ca_dir = tmp_path / "ca"
        args = ["--ca-dir", str(ca_dir), "--secret-key", "env:APEX_TEST_AT_REST", "--log-level", "DEBUG"]
        with ControlPlaneProcess(redis_server.url, args=args) as cp:
            policy = fill(config_pb2.Policy(), config["policy"], "policy")
            cp.set_policy("echo", policy, expected=0)  # type: ignore[arg-type]
            history = cp.stub.History(control_pb2.HistoryRequest(service="echo"), timeout=10)
            outputs["policy history"] = str(history)
            assert cp.proc is not None
            outputs["control plane ps"] = Path(f"/proc/{cp.proc.pid}/cmdline").read_bytes().decode(errors="replace")
            cp.stop()
            outputs["control plane log"] = cp.log()
        assert "keys sealed (AES-GCM)" in outputs["control plane log"]
        assert sorted(p.name for p in ca_dir.iterdir()) == ["keys.pem.sealed", "roots.pem"]
        outputs["CA directory"] = "".join(p.read_bytes().decode(errors="replace") for p in ca_dir.iterdir())
        assert "PRIVATE KEY" not in outputs["CA directory"]
    issued = tokens.issued[0]
    assert issued.endswith(TOKEN_SUFFIX)
    for where, text in outputs.items():
        for secret in (OAUTH_SECRET, ADMIN_TOKEN, METRICS_TOKEN, AT_REST_KEY, TOKEN_SUFFIX):
            assert secret not in text, f"{secret[:12]}... leaked into {where}"
