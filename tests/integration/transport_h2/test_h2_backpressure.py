"""Backpressure across two h2 sidecars (mesh-h2): a slow reader of a server stream of large messages
makes the upstream wait instead of making either sidecar buffer the stream.

Real processes: grpc client → sidecar A (h2 listener, h2 cluster) → sidecar B (h2 listener, h2
cluster) → Echo. The bound is read from each sidecar's own accounting (admin Stats.transport,
h2.held_bytes_peak_per_connection) and from the kernel (VmHWM); nothing is timed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import grpc
import pytest
from apex.mesh.v1 import admin_pb2, admin_pb2_grpc, echo_pb2, echo_pb2_grpc

from benchmarks import procstat
from benchmarks.targets import inbound_config, outbound_config
from sidecar.examples.echo import BackgroundEcho, EchoService
from tests.support.sidecar_proc import SidecarProcess

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
MESSAGE = 1 * MiB
COUNT = 96  # 96 MiB in all: far more than every buffer and window on the path together
# What one connection may hold for one stream: a message being assembled, a stream window of DATA
# (1 MiB) behind the 256 KiB high-water mark plus one whole message, and the same on the way out.
PER_CONNECTION_BOUND = 6 * MiB
RSS_GROWTH_BOUND_MB = 48  # per sidecar, while 96 MiB wait for the reader


class CountingEcho(EchoService):
    """Echo that counts the server-stream messages it has produced (the generator runs only as
    grpc asks for the next one, i.e. as flow control lets the previous ones go)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.produced = 0

    async def ServerStream(
        self, request: echo_pb2.EchoRequest, context: object
    ) -> AsyncIterator[echo_pb2.EchoResponse]:
        async for reply in super().ServerStream(request, context):
            self.produced += 1
            yield reply


@pytest.fixture(scope="module")
def echo() -> Iterator[BackgroundEcho]:
    server = BackgroundEcho("slow-reader")
    server.service = CountingEcho("slow-reader")
    server.start()
    yield server
    server.close()


def transport_stats(admin: str) -> dict[str, int]:
    with grpc.insecure_channel(admin) as channel:
        stats = admin_pb2_grpc.AdminStub(channel).GetStats(admin_pb2.GetStatsRequest(), timeout=5)
    return dict(stats.transport)


def vm_kb(pid: int) -> tuple[int, int]:
    found = procstat.usage(pid)
    assert found is not None, f"sidecar {pid} is gone"
    return found.rss_kb, found.peak_rss_kb


def test_a_slow_reader_makes_the_upstream_wait_not_the_sidecars_buffer(echo: BackgroundEcho) -> None:
    service = echo.service
    assert isinstance(service, CountingEcho)
    with (
        SidecarProcess(inbound_config(echo.address, "h2")) as b,
        SidecarProcess(outbound_config(b["inbound"], transport="h2")) as a,
    ):
        sidecars = {"A": a, "B": b}
        pids = {name: proc.proc.pid for name, proc in sidecars.items() if proc.proc is not None}
        asyncio.run(_warm_up(a["outbound"]))
        before = {name: vm_kb(pid)[0] for name, pid in pids.items()}
        stalled, received = asyncio.run(_slow_reader(a["outbound"], service))
        stats = {name: transport_stats(proc["admin"]) for name, proc in sidecars.items()}
        after = {name: vm_kb(pid)[1] for name, pid in pids.items()}
    growth = {name: (after[name] - before[name]) / 1024 for name in pids}
    peaks = {name: s.get("h2.held_bytes_peak_per_connection", -1) for name, s in stats.items()}
    shown_peaks = {n: round(p / MiB, 2) for n, p in peaks.items()}
    shown_growth = {n: round(g, 1) for n, g in growth.items()}
    print(
        f"\nslow reader, {COUNT} x {MESSAGE // MiB} MiB: upstream produced {stalled}/{COUNT} while the reader "
        f"paused; peak held per connection {shown_peaks} MiB; VmHWM growth {shown_growth} MB"
    )
    assert received == COUNT  # every message arrived, whole and in order, once the reader resumed
    assert stalled < COUNT // 3, "the upstream was never made to wait: the sidecars buffered the stream"
    for name, peak in peaks.items():
        assert 0 < peak <= PER_CONNECTION_BOUND, (name, peak, stats[name])
        assert growth[name] < RSS_GROWTH_BOUND_MB, (name, growth[name])


async def _warm_up(address: str) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        await echo_pb2_grpc.EchoStub(channel).Unary(echo_pb2.EchoRequest(payload=b"warm"), timeout=10)


async def _slow_reader(address: str, service: CountingEcho) -> tuple[int, int]:
    """Read one message, stop reading until the upstream stops producing, then read the rest.
    Returns (messages produced while the reader was stopped, messages received)."""
    options = [("grpc.max_receive_message_length", -1)]
    async with grpc.aio.insecure_channel(address, options=options) as channel:
        stub = echo_pb2_grpc.EchoStub(channel)
        request = echo_pb2.EchoRequest(response_size=MESSAGE, response_count=COUNT)
        call = stub.ServerStream(request, timeout=120)
        first = await call.read()
        assert first is not grpc.aio.EOF and first.index == 0
        # 1. The reader stops. Wait until production has not moved for a whole second (the pipeline is
        #    full and every hop waits on flow control), or until it produced everything (no backpressure).
        last, still_since = -1, time.monotonic()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and service.produced < COUNT:
            if service.produced != last:
                last, still_since = service.produced, time.monotonic()
            elif time.monotonic() - still_since >= 1.0:
                break
            await asyncio.sleep(0.1)
        stalled = service.produced
        # 2. The reader resumes: everything arrives, in order.
        received = 1
        while (reply := await call.read()) is not grpc.aio.EOF:
            assert reply.index == received and len(reply.payload) == MESSAGE
            received += 1
        assert await call.code() is grpc.StatusCode.OK
    return stalled, received
