"""`apex stat`, `apex top --once` and `apex health` against a real Redis fed by two real sidecars.

Each sidecar serves a known number of OK and failing calls; the command's merged rows must count
exactly those calls (both instances together), show the failures by code, and name both instances.
"""

from __future__ import annotations

import asyncio
import json

import grpc
import pytest
import redis.asyncio as aioredis
from apex.mesh.contract import refusals
from apex.mesh.contract.streams import telemetry_key
from apex.mesh.v1 import echo_pb2, echo_pb2_grpc, telemetry_pb2

from sidecar.cli import main
from sidecar.examples.echo import BackgroundEcho
from tests.support.observed import observed_config, poll, unary, windows
from tests.support.sidecar_proc import SidecarProcess

pytestmark = pytest.mark.integration

SERVICE = "stat-cli"
LOAD = {"stat-a": (30, 3), "stat-b": (20, 7)}  # instance -> (OK unary calls, UNAVAILABLE unary calls)
SHED = 3  # outbound calls per instance its rate limit refuses
STREAMS = 4  # server-streaming calls per instance besides: a second method on the same route
UNARY, STREAM = "/apex.mesh.v1.Echo/Unary", "/apex.mesh.v1.Echo/ServerStream"


def _streams(address: str, n: int) -> None:
    with grpc.insecure_channel(address) as channel:
        stub = echo_pb2_grpc.EchoStub(channel)
        for _ in range(n):
            assert len(list(stub.ServerStream(echo_pb2.EchoRequest(response_count=2), timeout=10))) == 2


async def _delete(url: str) -> None:
    client = aioredis.from_url(url)
    await client.delete(telemetry_key(SERVICE))
    await client.aclose()


def aggregates(w: telemetry_pb2.TelemetryWindow) -> list[telemetry_pb2.Aggregate]:
    return [*(r.stats for r in w.routes), *(c.stats for c in w.clusters), *(e.stats for e in w.endpoints)]


def _stat(capsys: pytest.CaptureFixture[str], redis_url: str, *extra: str) -> dict[str, object]:
    assert main(["stat", "--service", SERVICE, "--redis", redis_url, "--json", *extra]) == 0
    doc: dict[str, object] = json.loads(capsys.readouterr().out)
    return doc


def test_stat_top_health_merge_two_sidecars(
    echo: BackgroundEcho, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_delete(redis_url))
    procs: list[SidecarProcess] = []
    try:
        for instance in LOAD:
            config = observed_config(
                echo.address, service=SERVICE, telemetry={"redis_url": redis_url, "window": "200ms"}
            )
            config["node"]["instance"] = instance
            # the outbound route sheds: a bucket of 2 that refills once in 1000 s
            config["policy"]["route_tables"][1]["routes"][0]["rate_limit"] = {"requests_per_second": 0.001, "burst": 2}
            procs.append(SidecarProcess(config).start())
        for proc, (ok, failed) in zip(procs, LOAD.values(), strict=True):
            unary(proc["inbound"], ok)
            unary(proc["inbound"], failed, status=14)  # UNAVAILABLE, asked of the echo server
            _streams(proc["inbound"], STREAMS)
            unary(proc["outbound"], 2)
            unary(proc["outbound"], SHED, status=grpc.StatusCode.RESOURCE_EXHAUSTED.value[0])

        want_unary = sum(ok + failed for ok, failed in LOAD.values())
        want_calls = want_unary + STREAMS * len(LOAD)
        want_errors = sum(failed for _, failed in LOAD.values())

        def inbound(doc: dict[str, object]) -> list[dict[str, object]]:
            rows = doc["rows"]
            assert isinstance(rows, list)
            return [r for r in rows if r["listener"] == "inbound"]

        doc = poll(lambda: _stat(capsys, redis_url), lambda d: sum(r["calls"] for r in inbound(d)) == want_calls)
        [row] = inbound(doc)
        assert row["service"] == SERVICE and row["instances"] == 2
        assert row["calls"] == want_calls and isinstance(row["calls"], int)
        assert row["errors"] == want_errors
        assert row["errors_by_code"] == {"UNAVAILABLE": want_errors}
        assert row["success_rate"] == pytest.approx((want_calls - want_errors) / want_calls, abs=1e-6)
        latency = row["latency_ms"]
        assert isinstance(latency, dict)
        assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"]
        assert row["calls_per_second"] > 0
        assert row["rejections"] == 0 and row["rejections_by_kind"] == {}

        # The rate limit's refusals, as apex.mesh.contract.refusals classifies them; every counter name in
        # these real windows is one the contract knows.
        shed = SHED * len(LOAD)

        def outbound(doc: dict[str, object]) -> dict[str, object]:
            rows = doc["rows"]
            assert isinstance(rows, list)
            [row] = [r for r in rows if r["listener"] == "outbound"]
            assert isinstance(row, dict)
            return row

        out = outbound(poll(lambda: _stat(capsys, redis_url), lambda d: outbound(d)["rejections"] == shed))
        assert (out["rejections"], out["rejections_by_kind"]) == (shed, {"load_shed": shed})
        names = {n for w in windows(redis_url, SERVICE) for a in aggregates(w) for n in a.counters}
        assert "rate_limited" in names and not {n for n in names if not refusals.known(n)}

        # Per route and in buckets: the same calls, split but not lost.
        by_route = _stat(capsys, redis_url, "--by", "route", "--window", "1m")
        assert sum(r["calls"] for r in inbound(by_route)) == want_calls

        # Per gRPC method: one row per method of the inbound route, both instances merged, the
        # failures on the method that failed, no retry/rejection figures (those are per route).
        by_method = {r["method"]: r for r in inbound(_stat(capsys, redis_url, "--by", "method"))}
        assert set(by_method) == {UNARY, STREAM}
        assert (by_method[UNARY]["calls"], by_method[UNARY]["errors"]) == (want_unary, want_errors)
        assert by_method[UNARY]["errors_by_code"] == {"UNAVAILABLE": want_errors}
        assert by_method[UNARY]["instances"] == by_method[STREAM]["instances"] == 2
        assert (by_method[STREAM]["calls"], by_method[STREAM]["errors"]) == (STREAMS * len(LOAD), 0)
        assert by_method[STREAM]["retries"] is None and by_method[STREAM]["latency_ms"]["p50"] > 0
        assert main(["stat", "--service", SERVICE, "--redis", redis_url, "--by", "method"]) == 0
        table = capsys.readouterr().out
        assert "METHOD" in table and UNARY in table and STREAM in table

        # The text table and one `top` frame name the service and the p95 column.
        assert main(["stat", "--service", SERVICE, "--redis", redis_url]) == 0
        text = capsys.readouterr().out
        assert "P95" in text and SERVICE in text and f"UNAVAILABLE:{want_errors}" in text
        assert main(["top", "--service", SERVICE, "--redis", redis_url, "--once"]) == 0
        frame = capsys.readouterr().out
        assert "\x1b[" not in frame and "inbound" in frame and "P99" in frame

        # Health from telemetry alone: both instances, their calls, a recent heartbeat.
        assert main(["health", "--service", SERVICE, "--redis", redis_url, "--json"]) == 0
        health = json.loads(capsys.readouterr().out)["instances"]
        assert [h["instance"] for h in health] == list(LOAD)
        for h, (ok, failed) in zip(health, LOAD.values(), strict=True):
            assert h["calls"] >= ok + failed  # inbound and outbound routes both count the call
            assert h["errors"] >= failed
            assert 0 <= h["seconds_since_heartbeat"] < 30
    finally:
        for proc in procs:
            proc.close()


def test_stat_on_an_empty_stream_says_so(redis_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stat", "--service", "stat-nothing-here", "--redis", redis_url]) == 0
    assert "no telemetry in the last 300s for stat-nothing-here" in capsys.readouterr().out
