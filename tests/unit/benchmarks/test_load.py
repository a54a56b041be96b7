"""The load generator keeps failed calls in its percentiles and counts them, open and closed loop
(a target that fails fast must not look fast), against a real in-process Echo server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import grpc
import pytest
from apex.mesh.v1 import echo_pb2

from benchmarks.load import Job, Outcome, _Runner
from sidecar.examples.echo import BackgroundEcho

FAIL = echo_pb2.EchoRequest(status=echo_pb2.EchoStatus(code=14, message="down")).SerializeToString()
OK = echo_pb2.EchoRequest(payload=b"x").SerializeToString()


@pytest.fixture(scope="module")
def echo() -> Iterator[BackgroundEcho]:
    server = BackgroundEcho("load").start()
    yield server
    server.close()


def run(job: Job) -> Outcome:
    async def go() -> Outcome:
        async with grpc.aio.insecure_channel(job.address) as channel:
            return await _Runner(channel, job).run()

    return asyncio.run(go())


def job(address: str, kind: str, method: str, request: bytes, mode: str) -> Job:
    return Job(
        address, kind, method, request, mode, rate=200.0, concurrency=2,
        start_at=time.monotonic() + 0.05, warmup=0.05, duration=0.3, timeout=5.0,
    )  # fmt: skip


@pytest.mark.parametrize("mode", ["closed", "open"])
def test_unary_calls_that_fail_are_counted_and_kept_in_the_percentiles(echo: BackgroundEcho, mode: str) -> None:
    out = run(job(echo.address, "unary", "/apex.mesh.v1.Echo/Unary", FAIL, mode))
    assert out.errors["UNAVAILABLE"] > 0 and set(out.errors) == {"UNAVAILABLE"}
    assert out.completed == 0 and out.all_completed == 0  # no call succeeded
    assert 0 < out.histogram.total <= out.errors["UNAVAILABLE"]  # every measured failure has its latency


def test_server_streams_that_fail_are_counted_and_kept_in_the_percentiles(echo: BackgroundEcho) -> None:
    request = echo_pb2.EchoRequest(response_count=2, status=echo_pb2.EchoStatus(code=14)).SerializeToString()
    out = run(job(echo.address, "server_stream", "/apex.mesh.v1.Echo/ServerStream", request, "closed"))
    assert out.errors["UNAVAILABLE"] > 0 and out.completed == 0
    assert 0 < out.histogram.total <= out.errors["UNAVAILABLE"]


def test_successful_calls_fill_the_percentiles_with_no_errors(echo: BackgroundEcho) -> None:
    out = run(job(echo.address, "unary", "/apex.mesh.v1.Echo/Unary", OK, "closed"))
    assert not out.errors and out.histogram.total > 0 and out.completed > 0
