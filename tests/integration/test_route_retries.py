"""Retries through a real sidecar: a flaky upstream recovers; a dead one gets no retry storm."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator

import grpc
import pytest
from apex.mesh.v1 import admin_pb2, admin_pb2_grpc, echo_pb2, echo_pb2_grpc

from sidecar.examples.echo import BackgroundEcho
from tests.integration.route_helpers import decisions, drive, mesh_config, route_calls
from tests.support.sidecar_proc import SidecarProcess

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[BackgroundEcho, BackgroundEcho]]:
    """A good Echo server and a bad one that fails every call with UNAVAILABLE."""
    good, bad = BackgroundEcho("good").start(), BackgroundEcho("bad").start()
    bad.service.fail_with = grpc.StatusCode.UNAVAILABLE
    yield good, bad
    good.close()
    bad.close()


RETRY = {"max_attempts": 3, "idempotent_methods": ["*"], "backoff_base": "5ms", "backoff_max": "50ms"}


def test_retries_recover_calls_to_a_flaky_cluster(servers: tuple[BackgroundEcho, BackgroundEcho]) -> None:
    good, bad = servers
    good2 = BackgroundEcho("good").start()
    # A third of the attempts fail; the budget is generous here (the storm test below checks it).
    retry = {**RETRY, "max_attempts": 7, "budget": {"retry_percent": 100}}
    routes = [
        # Same flaky cluster (round robin over two good endpoints and a bad one), with and without retries.
        {"name": "plain", "match": {"headers": [{"name": "x-no-retry", "present": True}]}, "cluster": "flaky"},
        {"name": "retried", "cluster": "flaky", "retry": retry},
    ]
    config = mesh_config({"flaky": [good.address, good2.address, bad.address]}, routes)
    with SidecarProcess(config) as sc, contextlib.closing(good2):
        bad_before = bad.service.calls
        retried = asyncio.run(drive(sc["outbound"], 400, 8))
        bad_calls = bad.service.calls - bad_before
        plain = asyncio.run(drive(sc["outbound"], 200, 8, metadata=(("x-no-retry", "1"),)))
        counters = decisions(sc["admin"])["retried"]
    ok = sum(o.code is grpc.StatusCode.OK for o in retried) / len(retried)
    ok_plain = sum(o.code is grpc.StatusCode.OK for o in plain) / len(plain)
    print(
        f"\nflaky cluster (1 of 3 endpoints failing): success {ok:.4f} with retries over {len(retried)} calls "
        f"({counters.retries} retries, {counters.retries_succeeded} recovered, {bad_calls} attempts hit the bad "
        f"endpoint), {ok_plain:.3f} without retries"
    )
    assert ok >= 0.99
    assert ok_plain <= 0.8  # the control: a third of the calls land on the bad endpoint
    assert counters.requests == 400 and counters.retries >= 80
    assert counters.retries_succeeded >= 100  # calls whose first attempt failed and that still ended OK
    assert all(o.served_by == "good" for o in retried if o.code is grpc.StatusCode.OK)


def test_the_retry_budget_prevents_a_retry_storm(servers: tuple[BackgroundEcho, BackgroundEcho]) -> None:
    _, bad = servers
    budget = {"retry_percent": 20, "min_retries_per_second": 1, "ttl": "10s"}
    routes = [{"name": "dead", "cluster": "dead", "retry": {**RETRY, "max_attempts": 5, "budget": budget}}]
    requests = 500
    with SidecarProcess(mesh_config({"dead": [bad.address]}, routes)) as sc:
        before = bad.service.calls
        out = asyncio.run(drive(sc["outbound"], requests, 25))
        attempts = bad.service.calls - before
        counters = decisions(sc["admin"])["dead"]
    ratio = attempts / requests
    allowed = 1 + 0.20 + 1 * 10 / requests  # first attempts + 20% + min rate x ttl
    print(
        f"\ndead upstream, max_attempts 5, budget 20% + 1/s over 10 s: {requests} calls made {attempts} attempts "
        f"(ratio {ratio:.3f}, budget allows {allowed:.3f}, unbounded would be 5.0); "
        f"{counters.retries} retries, {counters.budget_exhausted} refused by the budget"
    )
    assert all(o.code is grpc.StatusCode.UNAVAILABLE for o in out)
    assert ratio <= allowed + 0.05
    assert counters.retries == attempts - requests
    assert counters.budget_exhausted >= requests * 0.7


def test_shadow_budget_counts_but_does_not_limit(servers: tuple[BackgroundEcho, BackgroundEcho]) -> None:
    _, bad = servers
    budget = {"retry_percent": 10, "min_retries_per_second": 0, "enforced": False}
    routes = [{"name": "dead", "cluster": "dead", "retry": {**RETRY, "max_attempts": 2, "budget": budget}}]
    with SidecarProcess(mesh_config({"dead": [bad.address]}, routes)) as sc:
        before = bad.service.calls
        asyncio.run(drive(sc["outbound"], 100, 10))
        attempts = bad.service.calls - before
        counters = decisions(sc["admin"])["dead"]
    assert attempts == 200 and counters.retries == 100
    assert counters.budget_exhausted == 0 and counters.budget_would_exhaust >= 85


def test_streams_are_retried_only_while_replayable_and_arrive_intact(
    servers: tuple[BackgroundEcho, BackgroundEcho],
) -> None:
    """Server streams and client streams through a flaky cluster: replayed attempts deliver every message."""
    good, bad = servers
    good2 = BackgroundEcho("good").start()
    retry = {
        **RETRY,
        "max_attempts": 5,
        "idempotent_methods": ["ServerStream", "ClientStream"],
        "budget": {"retry_percent": 100},
    }
    routes = [
        {
            "name": "unary-only",
            "match": {"headers": [{"name": "x-strict", "present": True}]},
            "cluster": "flaky",
            "retry": {**retry, "idempotent_methods": ["Unary"]},
        },
        {"name": "streams", "cluster": "flaky", "retry": retry},
    ]
    config = mesh_config({"flaky": [good.address, good2.address, bad.address]}, routes)

    async def run(target: str) -> tuple[int, int, int, int]:
        async with grpc.aio.insecure_channel(target) as channel:
            stub = echo_pb2_grpc.EchoStub(channel)
            streams_ok = client_ok = strict_ok = 0
            for i in range(60):
                try:
                    replies = [r async for r in stub.ServerStream(echo_pb2.EchoRequest(response_count=3, tag=f"s{i}"))]
                    streams_ok += [r.index for r in replies] == [0, 1, 2]
                except grpc.aio.AioRpcError:
                    pass

                async def parts(n: int = i) -> AsyncIterator[echo_pb2.EchoRequest]:
                    for part in (b"a", b"b", b"c"):
                        yield echo_pb2.EchoRequest(payload=part + str(n).encode())

                try:
                    reply = await stub.ClientStream(parts())
                    client_ok += reply.payload == b"a%db%dc%d" % (i, i, i)
                except grpc.aio.AioRpcError:
                    pass
            for i in range(60):  # a separate phase: round robin would alias with the 3 calls above

                async def parts3(n: int = i) -> AsyncIterator[echo_pb2.EchoRequest]:
                    for part in (b"a", b"b", b"c"):
                        yield echo_pb2.EchoRequest(payload=part + str(n).encode())

                try:
                    await stub.ClientStream(parts3(), metadata=(("x-strict", "1"),))
                    strict_ok += 1
                except grpc.aio.AioRpcError:
                    pass
            return streams_ok, client_ok, strict_ok, 60

    with SidecarProcess(config) as sc, contextlib.closing(good2):
        streams_ok, client_ok, strict_ok, n = asyncio.run(run(sc["outbound"]))
        counters = decisions(sc["admin"])
    print(
        f"\nflaky cluster, streams: server streams intact {streams_ok}/{n}, 3-message client streams intact "
        f"{client_ok}/{n} ({counters['streams'].not_retried_committed} failures after a 2nd message were not "
        f"retried); ClientStream on a route declaring only Unary idempotent: {strict_ok}/{n} "
        f"({counters['unary-only'].not_retried_non_idempotent} not retried as non-idempotent, "
        f"{counters['unary-only'].not_retried_committed} as committed)"
    )
    assert streams_ok >= n - 1
    assert client_ok >= n * 0.9
    assert counters["unary-only"].retries == 0
    strict = counters["unary-only"]
    assert strict.not_retried_non_idempotent + strict.not_retried_committed == n - strict_ok
    assert strict.not_retried_non_idempotent >= 1
    assert strict_ok <= n * 0.85  # about a third land on the bad endpoint and stay failed


def wait_until_unary_known(admin: str, method: str, timeout: float = 20.0) -> None:
    """Wait until the sidecar behind `admin` has learned (gRPC reflection) that `method` is unary."""
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(admin) as channel:
        stub = admin_pb2_grpc.AdminStub(channel)
        while stub.GetConfig(admin_pb2.GetConfigRequest(), timeout=5).method_kinds.get(method) != "unary":
            assert time.monotonic() < deadline, f"{method} not learned as unary by the sidecar at {admin}"
            time.sleep(0.05)


def test_no_retry_storm_against_an_overloaded_sidecar_shedding_load(echo: BackgroundEcho) -> None:
    """client -> outbound sidecar (retries on RESOURCE_EXHAUSTED, budget 20% + 1/s)
    -> inbound sidecar (rate limit 50/s sheds the excess) -> Echo."""
    inbound_routes = [{"name": "local", "cluster": "local", "rate_limit": {"requests_per_second": 50, "burst": 10}}]
    inbound_config = mesh_config({"local": [echo.address]}, inbound_routes)
    inbound_config["listeners"][0].update(name="inbound", direction="INBOUND")
    inbound_config["policy"]["route_tables"][0]["name"] = "inbound"
    budget = {"retry_percent": 20, "min_retries_per_second": 1, "ttl": "10s"}
    retry = {**RETRY, "max_attempts": 4, "retry_on": ["RESOURCE_EXHAUSTED", "UNAVAILABLE"], "budget": budget}
    requests = 600
    with SidecarProcess(inbound_config) as inbound:
        outbound_routes = [{"name": "svc", "cluster": "svc", "retry": retry}]
        with SidecarProcess(mesh_config({"svc": [inbound["inbound"]]}, outbound_routes)) as outbound:
            # Warm up first: both sidecars learn (by reflection, in the background) that Echo/Unary is
            # unary. Calls made before that take the stream relay, whose retry rules differ, so a
            # storm racing the lookup measured something else (0 or 9 retries instead of ~130).
            asyncio.run(drive(outbound["outbound"], 1, 1))
            for admin in (outbound["admin"], inbound["admin"]):
                wait_until_unary_known(admin, "/apex.mesh.v1.Echo/Unary")
            time.sleep(0.3)  # the rate limiter's bucket refills after the warm-up call
            before_sent = decisions(outbound["admin"])["svc"]
            before_shed = decisions(inbound["admin"])["local"]
            before_arrived = route_calls(inbound["admin"], "local")
            out = asyncio.run(drive(outbound["outbound"], requests, 30))
            sent = decisions(outbound["admin"])["svc"]
        shed = decisions(inbound["admin"])["local"]
        arrived = route_calls(inbound["admin"], "local") - before_arrived
    retries = sent.retries - before_sent.retries
    refused = sent.budget_exhausted - before_sent.budget_exhausted
    rate_limited = shed.rate_limited - before_shed.rate_limited
    ok = sum(o.code is grpc.StatusCode.OK for o in out)
    ratio = arrived / requests
    allowed = 1 + 0.20 + 1 * 10 / requests
    print(
        f"\noverloaded upstream sidecar (50/s): {requests} calls -> {arrived} attempts arrived (ratio {ratio:.3f}, "
        f"budget allows {allowed:.3f}, max_attempts would allow 4.0); {rate_limited} shed upstream, "
        f"{ok} succeeded, {retries} retries, {refused} refused by the budget"
    )
    assert arrived == requests + retries  # the reflection lookup happened during the warm-up
    assert ratio <= allowed + 0.05
    assert refused > 0 and rate_limited > 0, sent
    assert all(o.code in (grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED) for o in out)


def test_per_try_timeout_abandons_a_slow_endpoint_and_retries_elsewhere(echo: BackgroundEcho) -> None:
    """Cluster = [Echo, a sidecar delaying every call 10 s]; per_try_timeout 1 s moves calls to the fast one.
    (1 s rather than less: the fast attempt must fit in it even on a loaded 2-core machine.)"""
    slow_routes = [{"name": "local", "cluster": "local", "fault": {"delay": {"percent": 100, "duration": "10s"}}}]
    slow_config = mesh_config({"local": [echo.address]}, slow_routes)
    slow_config["listeners"][0].update(name="inbound", direction="INBOUND")
    slow_config["policy"]["route_tables"][0]["name"] = "inbound"
    retry = {**RETRY, "max_attempts": 3, "per_try_timeout": "1s", "budget": {"retry_percent": 100}}
    calls = 10  # about half reach the slow endpoint first: each costs the 1 s per-try timeout
    with SidecarProcess(slow_config) as slow:
        routes = [{"name": "mixed", "cluster": "mixed", "timeout": "20s", "retry": retry}]
        with SidecarProcess(mesh_config({"mixed": [echo.address, slow["inbound"]]}, routes)) as sc:
            # One call at a time: round robin then alternates, so a retry after a slow attempt
            # always lands on the fast endpoint (concurrent calls could alias onto the slow one).
            out = asyncio.run(drive(sc["outbound"], calls, 1))
            counters = decisions(sc["admin"])["mixed"]
    slowest = max(o.elapsed for o in out)
    print(
        f"\nper-try timeout 1 s, one endpoint 10 s slow: {sum(o.code is grpc.StatusCode.OK for o in out)}/{calls} "
        f"OK, {counters.per_try_timeouts} attempts abandoned and retried, slowest call {slowest * 1000:.0f} ms"
    )
    assert all(o.code is grpc.StatusCode.OK for o in out)
    assert counters.per_try_timeouts >= calls // 3  # round robin sends about half the first attempts there
    assert counters.retries == counters.per_try_timeouts
    assert slowest < 5.0  # no call waited for the 10 s endpoint
