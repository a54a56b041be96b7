"""Telemetry windows on a real Redis, published by a real sidecar process."""

from __future__ import annotations

import contextlib
import statistics
import threading
import time

import grpc
import pytest
import redis
from apex.mesh.contract.streams import telemetry_key
from apex.mesh.v1 import telemetry_pb2, telemetry_pb2_grpc

from sidecar.examples.echo import BackgroundEcho
from sidecar.support.redis_server import RedisServer
from tests.support.observed import observed_config, poll, route_calls, unary, windows
from tests.support.sidecar_proc import SidecarProcess

pytestmark = pytest.mark.integration


def telemetry_stats(admin: str) -> telemetry_pb2.TelemetryStats:
    with grpc.insecure_channel(admin) as channel:
        stub = telemetry_pb2_grpc.ObservabilityAdminStub(channel)
        return stub.GetTelemetryStats(telemetry_pb2.GetTelemetryStatsRequest(), timeout=10)


def test_window_totals_equal_the_calls_made(echo: BackgroundEcho, redis_url: str) -> None:
    service = "totals"
    config = observed_config(echo.address, service=service, telemetry={"redis_url": redis_url, "window": "200ms"})
    with SidecarProcess(config) as proc:
        unary(proc["outbound"], 40)
        unary(proc["outbound"], 7, status=grpc.StatusCode.NOT_FOUND.value[0])
        ws = poll(lambda: windows(redis_url, service), lambda ws: route_calls(ws) >= 47)
        assert route_calls(ws) == 47
        time.sleep(0.6)  # a few more (empty) windows: nothing may be counted twice
        ws = windows(redis_url, service)
        assert route_calls(ws) == 47
        codes: dict[str, int] = {}
        for w in ws:
            for r in w.routes:
                if r.route == "echo":
                    for name, n in r.stats.status_codes.items():
                        codes[name] = codes.get(name, 0) + n
        assert codes == {"OK": 40, "NOT_FOUND": 7}
        assert sum(r.stats.errors for w in ws for r in w.routes) == 7
        assert sum(e.stats.calls for w in ws for e in w.endpoints if e.cluster == "echo") == 47
        assert sum(r.stats.latency.count for w in ws for r in w.routes if r.route == "echo") == 47
        assert sum(r.stats.request_bytes for w in ws for r in w.routes if r.route == "echo") > 0
        instance = {w.instance for w in ws}
        assert len(instance) == 1 and {w.service for w in ws} == {service}
        sequences = [w.sequence for w in ws]
        assert sequences == list(range(1, len(ws) + 1))
        assert all(w.policy_version == ws[0].policy_version for w in ws)
        starts = [w.window_start.ToNanoseconds() for w in ws]
        assert starts == sorted(starts)


def test_redis_outage_does_not_fail_calls_and_publishing_resumes(
    echo: BackgroundEcho, redis_server: RedisServer
) -> None:
    service = "outage"
    url = redis_server.url
    config = observed_config(echo.address, service=service, telemetry={"redis_url": url, "window": "200ms"})
    with SidecarProcess(config) as proc:
        before = unary(proc["outbound"], 60)
        poll(lambda: windows(url, service), lambda ws: route_calls(ws) >= 60)
        assert route_calls(windows(url, service)) == 60

        redis_server.stop()
        during = unary(proc["outbound"], 60)  # raises on any failure
        time.sleep(1.0)  # several windows roll while Redis is down
        during += unary(proc["outbound"], 60)
        stats = telemetry_stats(proc["admin"])
        assert stats.publish_errors > 0 and not stats.connected
        assert stats.windows_buffered > 0 and stats.windows_dropped == 0

        redis_server.start()  # same port, empty (no persistence)
        after = unary(proc["outbound"], 20)
        ws = poll(lambda: windows(url, service), lambda ws: route_calls(ws) >= 140)
        # Everything since the outage began arrives once: the buffered windows, then new ones.
        assert route_calls(ws) == 140
        stats = poll(lambda: telemetry_stats(proc["admin"]), lambda s: s.connected)
        assert stats.connected and stats.reconnects >= 1
    assert len(during) == 120 and len(after) == 20
    # Latency during the outage: generous relative bound (a loaded 2-core machine).
    assert statistics.median(during) < 3 * statistics.median(before) + 0.005


def test_windows_stream_is_trimmed(echo: BackgroundEcho, redis_url: str) -> None:
    service = "trimmed"
    config = observed_config(
        echo.address, service=service, telemetry={"redis_url": redis_url, "window": "10ms", "stream_maxlen": 20}
    )
    client = redis.Redis.from_url(redis_url)
    try:
        with SidecarProcess(config) as proc:
            # Keep it busy: an idle sidecar publishes only a heartbeat window every 10 s.
            stop = threading.Event()
            caller = threading.Thread(target=lambda: [unary(proc["inbound"], 5) for _ in iter(stop.is_set, True)])
            caller.start()
            try:
                stats = poll(lambda: telemetry_stats(proc["admin"]), lambda s: s.windows_published >= 400, timeout=60)
            finally:
                stop.set()
                caller.join(30)
            assert stats.windows_published >= 400
            length = client.xlen(telemetry_key(service))
        # Approximate MAXLEN trims whole radix-tree nodes (100 entries by default).
        assert length <= 20 + 200
    finally:
        client.close()


def test_policy_events_reach_the_events_stream(echo: BackgroundEcho, redis_url: str) -> None:
    import signal

    import yaml

    from sidecar.telemetry.reader import read_events
    from tests.support.observed import run

    service = "evented"
    config = observed_config(echo.address, service=service, telemetry={"redis_url": redis_url, "window": "100ms"})
    config["policy"]["version"] = "v1"

    async def events() -> list[telemetry_pb2.Event]:
        import redis.asyncio as aioredis

        client = aioredis.from_url(redis_url)
        try:
            good, bad = await read_events(client, service)
        finally:
            await client.aclose()
        assert not bad
        return good

    with SidecarProcess(config) as proc:
        got = poll(lambda: run(events()), lambda es: len(es) >= 1)
        assert [(e.kind, e.priority, e.correlation_id) for e in got] == [("policy_applied", telemetry_pb2.MEDIUM, "v1")]
        broken = dict(config, policy={**config["policy"], "version": "v2", "clusters": []})
        proc.config_path.write_text(yaml.safe_dump(broken))
        assert proc.proc is not None
        proc.proc.send_signal(signal.SIGHUP)
        got = poll(lambda: run(events()), lambda es: len(es) >= 2)
    rejected = got[1]
    assert (rejected.kind, rejected.priority, rejected.correlation_id) == ("policy_rejected", telemetry_pb2.HIGH, "v2")
    assert "policy" in rejected.message and rejected.service == service and rejected.instance


def test_ejections_become_events_states_and_counters(echo: BackgroundEcho, redis_url: str) -> None:
    from sidecar.telemetry.reader import read_events
    from tests.support.observed import get_metrics, run

    failing = BackgroundEcho("failing").start()
    failing.service.fail_with = grpc.StatusCode.UNAVAILABLE
    service = "ejecting"
    config = observed_config(
        echo.address, service=service, telemetry={"redis_url": redis_url, "window": "100ms"},
        metrics={"address": "127.0.0.1:0"},
    )  # fmt: skip
    cluster = config["policy"]["clusters"][1]
    cluster["endpoints"] = [{"address": echo.address}, {"address": failing.address}]
    cluster["outlier_detection"] = {"consecutive_failures": 3, "base_ejection_time": "60s", "max_ejection_percent": 50}

    async def ejections() -> list[telemetry_pb2.Event]:
        import redis.asyncio as aioredis

        client = aioredis.from_url(redis_url)
        try:
            good, bad = await read_events(client, service)
        finally:
            await client.aclose()
        assert not bad
        return [e for e in good if e.kind == "endpoint_ejected"]

    try:
        with SidecarProcess(config) as proc:
            with grpc.insecure_channel(proc["outbound"]) as channel:
                from apex.mesh.v1 import echo_pb2, echo_pb2_grpc

                stub = echo_pb2_grpc.EchoStub(channel)
                for _ in range(12):  # round robin: the failing endpoint sees 6 calls, ejected after 3
                    with contextlib.suppress(grpc.RpcError):
                        stub.Unary(echo_pb2.EchoRequest(), timeout=10)
            got = poll(lambda: run(ejections()), lambda es: len(es) >= 1)
            text = get_metrics(proc["metrics"])
    finally:
        failing.close()
    assert len(got) == 1 and got[0].priority == telemetry_pb2.HIGH and got[0].endpoint == failing.address
    assert got[0].cluster == "echo" and got[0].correlation_id == f"echo/{failing.address}/1"
    assert f'apex_state{{cluster="echo",endpoint="{failing.address}",name="outlier",state="ejected"}} 1' in text
    labels = f'cluster="echo",endpoint="{failing.address}",decision="outlier_ejections"'
    assert f"apex_endpoint_policy_decisions_total{{{labels}}} 1" in text
