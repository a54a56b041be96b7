"""The response cache through a real sidecar process in front of a real Echo server."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest
import yaml
from apex.mesh.v1 import admin_pb2, admin_pb2_grpc, cache_pb2, cache_pb2_grpc, echo_pb2, echo_pb2_grpc

from sidecar.examples.echo import BackgroundEcho
from tests.support.sidecar_proc import SidecarProcess, proxy_config

pytestmark = pytest.mark.integration

UNARY = "/apex.mesh.v1.Echo/Unary"


@pytest.fixture(scope="module")
def upstream() -> Iterator[BackgroundEcho]:
    server = BackgroundEcho("cache-upstream").start()
    yield server
    server.close()


def start(upstream: BackgroundEcho, **rule: Any) -> SidecarProcess:
    config = proxy_config(upstream.address)
    config["policy"]["cache"] = [{"method": UNARY, "listeners": ["outbound"], **rule}]
    config["cache"] = {"max_entries": 100}
    return SidecarProcess(config).start()


class Client:
    def __init__(self, proc: SidecarProcess) -> None:
        self._channel = grpc.insecure_channel(proc["outbound"])
        self._admin = grpc.insecure_channel(proc["admin"])
        self.echo = echo_pb2_grpc.EchoStub(self._channel)
        self.cache = cache_pb2_grpc.CacheAdminStub(self._admin)
        self.admin = admin_pb2_grpc.AdminStub(self._admin)

    def unary(self, payload: bytes, **kw: Any) -> tuple[str, echo_pb2.EchoResponse | None, grpc.StatusCode]:
        """(x-apex-cache trailer or "", response or None, status code)."""
        try:
            response, call = self.echo.Unary.with_call(echo_pb2.EchoRequest(payload=payload, **kw), timeout=5)
        except grpc.RpcError as err:
            return "", None, err.code()
        tag = next((v for k, v in call.trailing_metadata() if k == "x-apex-cache"), "")
        return tag, response, call.code()

    def stats(self) -> cache_pb2.MethodCacheStats:
        stats = self.cache.GetCacheStats(cache_pb2.GetCacheStatsRequest(), timeout=5)
        return next(m for m in stats.methods if m.method == UNARY)

    def close(self) -> None:
        self._channel.close()
        self._admin.close()


def test_repeated_calls_reach_the_upstream_once_per_ttl(upstream: BackgroundEcho) -> None:
    ttl = 2.0
    proc = start(upstream, ttl=f"{ttl}s")
    client = Client(proc)
    try:
        before = upstream.service.calls
        began = time.monotonic()
        for _ in range(30):
            _, response, code = client.unary(b"ttl-test")
            assert code is grpc.StatusCode.OK and response is not None and response.payload == b"ttl-test"
        elapsed = time.monotonic() - began
        assert upstream.service.calls - before <= 1 + int(elapsed / ttl)
        assert client.unary(b"ttl-test")[0] == "hit"
        assert upstream.service.calls - before == 1 or elapsed >= ttl
        # Keep calling until the entry expires: one more upstream call, not before the TTL.
        deadline = time.monotonic() + 30
        while upstream.service.calls - before < 2:
            assert time.monotonic() < deadline, "the entry never expired"
            client.unary(b"ttl-test")
            time.sleep(0.05)
        assert time.monotonic() - began >= ttl * 0.9
        stats = client.stats()
        assert stats.hits >= 25 and stats.stores >= 2 and stats.entries == 1
        # Streaming calls are not cacheable: each reaches the upstream.
        before = upstream.service.calls
        for _ in range(3):
            list(client.echo.ServerStream(echo_pb2.EchoRequest(payload=b"s", response_count=2), timeout=5))
        assert upstream.service.calls - before == 3
    finally:
        client.close()
        proc.close()


def test_concurrent_identical_calls_are_coalesced(upstream: BackgroundEcho) -> None:
    proc = start(upstream, ttl="30s")
    client = Client(proc)
    try:
        before = upstream.service.calls
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: client.unary(b"coalesce", delay_ms=500), range(8)))
        assert all(code is grpc.StatusCode.OK for _, _, code in results)
        # The calls overlap within the 500 ms the upstream takes; a loaded machine may split them.
        assert upstream.service.calls - before <= 3
        assert client.stats().coalesced >= 1
    finally:
        client.close()
        proc.close()


def test_outage_is_covered_by_stale_if_error_within_its_bound(upstream: BackgroundEcho) -> None:
    ttl, bound = 0.5, 3.0
    proc = start(upstream, ttl=f"{ttl}s", stale_if_error=f"{bound}s")
    client = Client(proc)
    try:
        tag, response, _ = client.unary(b"outage")
        stored = time.monotonic()
        assert response is not None and tag == ""
        upstream.stop()
        time.sleep(ttl + 0.1)  # let the entry expire
        tag, response, code = client.unary(b"outage")
        assert code is grpc.StatusCode.OK and tag == "stale" and response is not None
        assert response.payload == b"outage"
        # Poll until the bound runs out: then the failure reaches the caller.
        deadline = time.monotonic() + 30
        while True:
            assert time.monotonic() < deadline, "stale-if-error never ran out"
            tag, _, code = client.unary(b"outage")
            if code is not grpc.StatusCode.OK:
                break
            assert tag == "stale"
            time.sleep(0.1)
        assert code is grpc.StatusCode.UNAVAILABLE
        assert time.monotonic() - stored >= ttl + bound * 0.9
        assert client.stats().stale_if_error >= 1
    finally:
        upstream.restart()
        client.close()
        proc.close()


def test_purge_forces_a_refetch(upstream: BackgroundEcho) -> None:
    proc = start(upstream, ttl="60s", vary=["x-tenant"])
    client = Client(proc)
    try:

        def calls_for(payload: bytes, tenant: str) -> None:
            _, response, code = client.unary(payload) if not tenant else _tenant_call(client, payload, tenant)
            assert code is grpc.StatusCode.OK and response is not None

        before = upstream.service.calls
        for _ in range(3):
            calls_for(b"purge", "")
        assert upstream.service.calls - before == 1
        purged = client.cache.PurgeCache(cache_pb2.PurgeCacheRequest(method=UNARY), timeout=5).purged
        assert purged == 1
        calls_for(b"purge", "")
        assert upstream.service.calls - before == 2

        # Purge by key prefix: one tenant's entries only.
        calls_for(b"t", "acme")
        calls_for(b"t", "globex")
        assert upstream.service.calls - before == 4
        prefix = f"{UNARY}|echo|x-tenant=acme|"
        assert client.cache.PurgeCache(cache_pb2.PurgeCacheRequest(key_prefix=prefix), timeout=5).purged == 1
        calls_for(b"t", "acme")
        calls_for(b"t", "globex")
        assert upstream.service.calls - before == 5

        assert client.cache.PurgeCache(cache_pb2.PurgeCacheRequest(all=True), timeout=5).purged == 3
        assert client.stats().entries == 0
        with pytest.raises(grpc.RpcError) as info:
            client.cache.PurgeCache(cache_pb2.PurgeCacheRequest(), timeout=5)
        assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT

        # The same through the CLI.
        calls_for(b"cli", "")
        apex = [sys.executable, "-m", "sidecar", "cache", "--admin", proc["admin"], "--json"]
        stats = json.loads(subprocess.run([*apex, "stats"], check=True, capture_output=True, text=True).stdout)
        assert stats["entries"] == 1  # a number, not protobuf JSON's "1"
        assert all(isinstance(m["hits"], int) for m in stats["methods"])
        out = subprocess.run([*apex, "purge", "--method", UNARY], check=True, capture_output=True, text=True).stdout
        assert json.loads(out) == {"purged": 1}
        calls_for(b"cli", "")
        assert upstream.service.calls - before == 7
    finally:
        client.close()
        proc.close()


def _tenant_call(client: Client, payload: bytes, tenant: str) -> tuple[str, echo_pb2.EchoResponse | None, Any]:
    response, call = client.echo.Unary.with_call(
        echo_pb2.EchoRequest(payload=payload), metadata=[("x-tenant", tenant)], timeout=5
    )
    return "", response, call.code()


def test_policy_change_drops_the_changed_methods_entries(upstream: BackgroundEcho) -> None:
    proc = start(upstream, ttl="60s")
    client = Client(proc)
    try:
        before = upstream.service.calls
        client.unary(b"policy")
        client.unary(b"policy")
        assert upstream.service.calls - before == 1

        def reload(**rule: Any) -> None:
            config = yaml.safe_load(proc.config_path.read_text())
            config["policy"]["version"] = f"v{time.monotonic()}"
            config["policy"]["cache"] = [{"method": UNARY, "listeners": ["outbound"], **rule}]
            proc.config_path.write_text(yaml.safe_dump(config))
            assert proc.proc is not None
            proc.proc.send_signal(signal.SIGHUP)
            version = config["policy"]["version"]
            deadline = time.monotonic() + 20
            while client.admin.GetStats(admin_pb2.GetStatsRequest(), timeout=5).policy_version != version:
                assert time.monotonic() < deadline, "the policy was not reloaded"
                time.sleep(0.05)

        reload(ttl="60s")  # same rule, new policy version: the entry stays
        client.unary(b"policy")
        assert upstream.service.calls - before == 1
        reload(ttl="30s")  # the method's rule changed: its entries drop
        assert client.stats().entries == 0 and client.stats().purged == 1
        client.unary(b"policy")
        assert upstream.service.calls - before == 2
    finally:
        client.close()
        proc.close()
