"""Outbound OAuth2 client credentials against a real token endpoint (http.server in a thread, counting requests):
one fetch for many calls, refresh in the background before expiry without holding a call, clear errors,
and a real sidecar attaching the token to outbound calls in place of the application's own header."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sidecar.cli import main as apex
from sidecar.core.call import CallDescriptor, Code, Status
from sidecar.core.service import BufferedResponse, Request, Response
from sidecar.layers.oauth2.layer import OAuth2Layer
from sidecar.layers.oauth2.source import TokenSource
from sidecar.policy.oauth2_model import OAuth2
from sidecar.support.sidecar_proc import SidecarProcess
from tests.support.observed import get_metrics
from tests.support.token_server import TokenServer

pytestmark = pytest.mark.integration

SECRET = "oauth2-client-secret-5d1f9a"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def _none() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover


def _stack(settings: OAuth2, clock: Clock) -> tuple[TokenSource, Any]:
    source = TokenSource(settings, clock=clock)

    async def upstream(request: Request) -> Response:
        return BufferedResponse(Status(Code.OK), [dict(request.call.metadata).get("authorization", "-").encode()])

    return source, OAuth2Layer(source)(upstream)


async def _call(service: Any, metadata: tuple[tuple[str, str], ...] = ()) -> tuple[Code, str]:
    request = Request(CallDescriptor("/pkg.S/M", metadata=metadata), _none())
    response = await asyncio.wait_for(service(request), 10)
    reply = await response.read()
    status = await response.status()
    return status.code, (reply or b"").decode() if status.ok else status.details


def test_one_fetch_serves_many_calls_and_refreshes_in_the_background(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APEX_TEST_OAUTH2_SECRET", SECRET)
    with TokenServer("mesh-client", SECRET, expires_in=3600) as server:
        settings = OAuth2(server.url, "mesh-client", {"env": "APEX_TEST_OAUTH2_SECRET"}, scopes=("echo.read",))

        async def scenario() -> None:
            clock = Clock(1000.0)
            source, service = _stack(settings, clock)
            first = await asyncio.gather(*(_call(service, (("authorization", "Bearer app-own"),)) for _ in range(20)))
            assert set(first) == {(Code.OK, "Bearer tok-1-x")}  # the app's own header was replaced
            assert server.requests == 1 and server.forms[0]["scope"] == ["echo.read"]

            clock.now = 1000 + 3600 - 59  # inside refresh_before (60 s): a refresh is due
            server.hold()  # the token endpoint answers only when released
            during = [await _call(service) for _ in range(5)]
            assert during == [(Code.OK, "Bearer tok-1-x")] * 5  # no call waited for the refresh
            await asyncio.to_thread(server.arrived.wait, 10)
            server.release()
            while source.state.token is None or source.state.token.value == "tok-1-x":
                await asyncio.sleep(0.01)
            assert await _call(service) == (Code.OK, "Bearer tok-2-x")
            assert server.requests == 2 and dict(source.counts) == {"fetched": 2, "refreshed": 1}

        asyncio.run(scenario())


def test_token_errors_are_clear_and_do_not_hammer_the_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APEX_TEST_OAUTH2_SECRET", "not-the-secret")
    with TokenServer("mesh-client", SECRET) as server:
        settings = OAuth2(server.url, "mesh-client", {"env": "APEX_TEST_OAUTH2_SECRET"})

        async def scenario() -> None:
            clock = Clock(1000.0)
            source, service = _stack(settings, clock)
            code, details = await _call(service)
            assert code is Code.UNAVAILABLE
            assert details == (
                f"apex: no OAuth2 access token for this route: token endpoint {server.url} answered HTTP 401: "
                "invalid_client (Client authentication failed)"
            )
            assert SECRET not in details and "not-the-secret" not in details
            for _ in range(10):  # within the backoff: refused at once, the endpoint is not asked again
                assert (await _call(service))[0] is Code.UNAVAILABLE
            assert server.requests == 1 and source.counts["calls_refused"] == 11

        asyncio.run(scenario())
    # Endpoint gone: the error says it cannot be reached.
    settings = OAuth2(server.url, "mesh-client", {"env": "APEX_TEST_OAUTH2_SECRET"}, timeout=2)

    async def unreachable() -> None:
        _, service = _stack(settings, Clock(0.0))
        code, details = await _call(service)
        assert code is Code.UNAVAILABLE and f"cannot reach token endpoint {server.url}" in details

    asyncio.run(unreachable())


class _Reflect(grpc.GenericRpcHandler):
    """An upstream answering every unary call with the authorization header it received."""

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Any, Any] | None:
        if not details.method.startswith("/partner."):
            return None  # UNIMPLEMENTED (the sidecar's reflection lookup, for one)

        def reflect(request: bytes, context: grpc.ServicerContext[Any, Any]) -> bytes:
            return dict(context.invocation_metadata()).get("authorization", "-").encode()

        return grpc.unary_unary_rpc_method_handler(reflect)


@pytest.fixture
def reflector() -> Iterator[str]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers([_Reflect()])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(None)


def test_a_sidecar_attaches_its_route_token_to_outbound_calls(
    reflector: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with TokenServer("shop-client", SECRET, expires_in=3600) as server:
        config = {
            "node": {"service": "shop"},
            "logging": {"level": "DEBUG"},
            "admin": {"address": "127.0.0.1:0"},
            "metrics": {"address": "127.0.0.1:0"},
            "listeners": [{"name": "outbound", "address": "127.0.0.1:0", "direction": "OUTBOUND"}],
            "policy": {
                "route_tables": [{"name": "outbound", "routes": [{
                    "name": "partner", "cluster": "partner",
                    "oauth2": {"token_url": server.url, "client_id": "shop-client",
                               "client_secret": {"env": "APEX_TEST_OAUTH2_SECRET"}},
                }]}],
                "clusters": [{"name": "partner", "endpoints": [{"address": reflector}]}],
            },
        }  # fmt: skip
        with SidecarProcess(config, env={"APEX_TEST_OAUTH2_SECRET": SECRET}) as sidecar:
            with grpc.insecure_channel(sidecar["outbound"]) as channel:
                call = channel.unary_unary("/partner.Api/Get")
                replies = {call(b"", timeout=10, metadata=(("authorization", "Bearer app"),)) for _ in range(10)}
            assert replies == {b"Bearer tok-1-x"}
            assert server.requests == 1
            fetched = time.time()
            text = get_metrics(sidecar["metrics"])
            series = {(s.name, s.labels.get("route")): s.value
                      for family in text_string_to_metric_families(text) for s in family.samples
                      if s.name.startswith("apex_oauth2_")}  # fmt: skip
            expiry = series.pop(("apex_oauth2_token_expiry_seconds", "partner"))
            assert fetched - 30 < expiry - 3600 <= fetched  # obtained during this test, valid 3600 s
            assert series == {
                ("apex_oauth2_token_fetches_total", "partner"): 1,
                ("apex_oauth2_token_fetch_errors_total", "partner"): 0,
                ("apex_oauth2_token_refreshes_total", "partner"): 0,
                ("apex_oauth2_calls_refused_total", "partner"): 0,
            }
            assert "tok-1-x" not in text and SECRET not in text
            # The same counts in `apex admin security` (no workload identity: the token sources only).
            capsys.readouterr()
            assert apex(["admin", "--admin", sidecar["admin"], "--json", "security"]) == 0
            shown = capsys.readouterr().out
            [route] = json.loads(shown)["oauth2"]
            assert route.pop("token_expires_at") == pytest.approx(expiry, abs=1e-3)
            assert route == {"listener": "outbound", "route": "partner", "counters": {"fetched": 1}}
            assert apex(["admin", "--admin", sidecar["admin"], "security"]) == 0
            shown += capsys.readouterr().out
            assert "oauth2 outbound/partner: token expires in " in shown and "fetched 1" in shown
            assert "tok-1-x" not in shown and SECRET not in shown
            sidecar.stop()
            log = sidecar.log()
        assert "new access token from" in log
        assert SECRET not in log and "tok-1-x" not in log
