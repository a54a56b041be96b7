"""Hardening h: thousands of concurrent slow unary calls on one HTTP/2 connection through a real
sidecar all succeed; above the listener's advertised MAX_CONCURRENT_STREAMS callers queue.

The cause found: grpc core sheds a server's backlog of calls the application has not yet picked
up (above `grpc.server.max_pending_requests`, 1000, at random up to 3000) and the caller sees a
bare CANCELLED. A sidecar's event loop picks calls up more slowly than the service it fronts,
so its backlog crosses the line first. The listener now turns that shedding off and bounds the
backlog per connection with an advertised MAX_CONCURRENT_STREAMS instead (docs/limits.md).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from apex.mesh.v1 import echo_pb2, echo_pb2_grpc

from sidecar.support.sidecar_proc import SidecarProcess, proxy_config
from tests.integration.wire_upstream import WireUpstream

pytestmark = pytest.mark.integration


@pytest.fixture
def upstream() -> Iterator[WireUpstream]:
    server = WireUpstream().start()
    yield server
    server.close()


async def _concurrent_unary(target: str, calls: int, delay_ms: int) -> collections.Counter[str]:
    """`calls` Unary calls started at once on ONE channel (one HTTP/2 connection); codes counted."""
    codes: collections.Counter[str] = collections.Counter()
    async with grpc.aio.insecure_channel(target) as channel:
        stub = echo_pb2_grpc.EchoStub(channel)
        await stub.Unary(echo_pb2.EchoRequest(payload=b"warm"), timeout=30)  # connected, kinds learned

        async def one() -> None:
            try:
                await stub.Unary(echo_pb2.EchoRequest(payload=b"x", delay_ms=delay_ms), timeout=60)
                codes["OK"] += 1
            except grpc.aio.AioRpcError as err:
                codes[f"{err.code().name}: {err.details()}"] += 1

        await asyncio.gather(*(one() for _ in range(calls)))
    return codes


def _config(upstream: str, **limits: Any) -> dict[str, Any]:
    config = proxy_config(upstream)
    if limits:
        for listener in config["listeners"]:
            listener["limits"] = limits
    return config


@pytest.mark.parametrize("limit", [None, 5000], ids=["default-limits", "streams-5000"])
def test_thousands_of_slow_calls_on_one_connection_all_succeed(upstream: WireUpstream, limit: int | None) -> None:
    # Before the fix 3,000 calls here ended with 300-600 CANCELLED (grpc's backlog shedding).
    # With the default limit (1000 streams) the caller queues the rest; with 5000 all 3000 are
    # in the sidecar's backlog at once, which grpc no longer sheds.
    limits = {} if limit is None else {"max_concurrent_streams": limit}
    with SidecarProcess(_config(upstream.address, **limits)) as sidecar:
        codes = asyncio.run(_concurrent_unary(sidecar["inbound"], 3000, 1000))
    assert codes == {"OK": 3000}, dict(codes)


def test_callers_queue_above_the_advertised_max_concurrent_streams(upstream: WireUpstream) -> None:
    # Before the fix grpc counted stream allocations against the limit and refused the excess
    # with RST_STREAM(REFUSED_STREAM): the caller saw UNAVAILABLE instead of waiting its turn.
    with SidecarProcess(_config(upstream.address, max_concurrent_streams=20)) as sidecar:
        codes = asyncio.run(_concurrent_unary(sidecar["inbound"], 300, 100))
    assert codes == {"OK": 300}, dict(codes)
    assert upstream.service.most_in_flight <= 20  # the caller queued the rest on its side
