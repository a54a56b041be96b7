"""Retries behave the same whichever way a unary call is relayed: by the grpc transport's unary relay
(method kind learned by reflection), its stream relay (kind unknown: an upstream without reflection)
or transport h2 (every call a stream). Each trailers-only RESOURCE_EXHAUSTED is retried once, exactly."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import grpc
import pytest

from sidecar.examples.echo import BackgroundEcho
from tests.integration.route_helpers import decisions, drive, mesh_config
from tests.integration.test_route_retries import wait_until_unary_known
from tests.support.sidecar_proc import SidecarProcess

pytestmark = pytest.mark.integration

CALLS = 20
RETRY = {
    "max_attempts": 2,
    "idempotent_methods": ["*"],
    "retry_on": ["RESOURCE_EXHAUSTED"],
    "backoff_base": "1ms",
    "backoff_max": "5ms",
    "budget": {"retry_percent": 100, "min_retries_per_second": 10},  # never the limit here
}


@pytest.fixture(scope="module")
def exhausted() -> Iterator[dict[str, BackgroundEcho]]:
    """Two Echo servers answering every call RESOURCE_EXHAUSTED (trailers-only), with and without reflection."""
    servers = {"reflection": BackgroundEcho("refl"), "plain": BackgroundEcho("plain", reflection=False)}
    for server in servers.values():
        server.service.fail_with = grpc.StatusCode.RESOURCE_EXHAUSTED
        server.start()
    yield servers
    for server in servers.values():
        server.close()


def _config(servers: dict[str, BackgroundEcho], transport: str) -> dict[str, object]:
    routes = [
        {"name": "plain", "match": {"headers": [{"name": "x-plain", "present": True}]}, "cluster": "plain",
         "retry": RETRY},
        {"name": "reflection", "cluster": "reflection", "retry": RETRY},
    ]  # fmt: skip
    config = mesh_config({name: [s.address] for name, s in servers.items()}, routes)
    config["listeners"][0]["transport"] = transport  # type: ignore[index]
    for cluster in config["policy"]["clusters"]:  # type: ignore[index]
        cluster["transport"] = transport
    return config


@pytest.mark.parametrize("transport", ["grpc", "h2"])
def test_every_relay_retries_a_trailers_only_failure_once(
    exhausted: dict[str, BackgroundEcho], transport: str
) -> None:
    with SidecarProcess(_config(exhausted, transport)) as sc:
        if transport == "grpc":  # the unary relay: wait until the sidecar knows Echo/Unary is unary
            asyncio.run(drive(sc["outbound"], 1, 1))
            wait_until_unary_known(sc["admin"], "/apex.mesh.v1.Echo/Unary")
        seen: dict[str, tuple[int, int, int]] = {}
        for route, metadata in (("reflection", ()), ("plain", (("x-plain", "1"),))):
            server = exhausted[route]
            before_calls, before = server.service.calls, decisions(sc["admin"]).get(route)
            out = asyncio.run(drive(sc["outbound"], CALLS, 4, metadata=metadata))
            after = decisions(sc["admin"])[route]
            retries = after.retries - (before.retries if before else 0)
            failed = sum(o.code is grpc.StatusCode.RESOURCE_EXHAUSTED for o in out)
            seen[route] = (failed, server.service.calls - before_calls, retries)
    print(f"\n{transport}: (calls failed, attempts at the upstream, retries) per route {seen}")
    for route, (failed, attempts, retries) in seen.items():
        assert (failed, attempts, retries) == (CALLS, 2 * CALLS, CALLS), (transport, route)
