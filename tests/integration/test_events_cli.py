"""`apex events tail` on a real Redis: text and JSON, the priority filter, escaping, --follow."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid

import pytest
import redis.asyncio as aioredis
from apex.mesh.bus import EventPublisher, Priority
from apex.mesh.contract import streams

pytestmark = pytest.mark.integration
APEX = [sys.executable, "-m", "sidecar"]


def publish(redis_url: str, service: str, *events: tuple[str, Priority, str]) -> None:
    async def run() -> None:
        client = aioredis.from_url(redis_url)
        pub = EventPublisher(client, service, "i-1")
        for kind, priority, message in events:
            await pub.publish(kind, priority=priority, message=message, correlation_id="c-1")
        await client.aclose()

    asyncio.run(run())


def tail(redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*APEX, "events", "tail", "--redis", redis_url, *args], capture_output=True, text=True, timeout=30
    )


def test_tail_prints_filters_by_priority_and_escapes(redis_url: str) -> None:
    service = f"ev-{uuid.uuid4().hex[:8]}"
    publish(
        redis_url, service,
        ("cache.flushed", Priority.LOW, "routine"),
        ("service.health_degraded", Priority.HIGH, "p99 \x1b[31mred\x1b[0m\nfake line"),
        ("policy.rejected", Priority.CRITICAL, "v7 rejected"),
    )  # fmt: skip
    asyncio.run(_add_bad(redis_url, service))
    out = tail(redis_url, "--service", service)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert [line.split()[2] for line in lines] == ["cache.flushed", "service.health_degraded", "policy.rejected"]
    assert "\x1b" not in out.stdout and "\\u001b[31mred" in lines[1] and "correlation_id=c-1" in lines[1]
    assert "skipped bad entry" in out.stderr and "skipped 1 bad entries" in out.stderr
    high = tail(redis_url, "--service", service, "--priority", "high", "--json")
    got = [json.loads(line) for line in high.stdout.splitlines()]
    assert [(e["kind"], e["priority"]) for e in got] == [
        ("service.health_degraded", "HIGH"),
        ("policy.rejected", "CRITICAL"),
    ]
    assert got[0]["message"] == "p99 \x1b[31mred\x1b[0m\nfake line" and got[0]["service"] == service
    everyone = tail(redis_url, "--priority", "CRITICAL", "--last", "5")  # every service's stream
    assert any(service in line and "policy.rejected" in line for line in everyone.stdout.splitlines())
    wrong = tail(redis_url, "--priority", "urgent")
    assert wrong.returncode == 2 and "unknown priority 'urgent'" in wrong.stderr


async def _add_bad(redis_url: str, service: str) -> None:
    client = aioredis.from_url(redis_url)
    await client.xadd(streams.events_key(service), {"event": b"\xff\xffnot a protobuf"})
    await client.aclose()


def test_follow_prints_new_events(redis_url: str) -> None:
    service = f"ev-{uuid.uuid4().hex[:8]}"
    follower = subprocess.Popen(
        [*APEX, "events", "tail", "--redis", redis_url, "--service", service, "--follow", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        publish(redis_url, service, ("deploy.started", Priority.MEDIUM, "v2"))
        assert follower.stdout is not None
        line = follower.stdout.readline()  # blocks until the follower prints (pytest's timeout bounds it)
        assert json.loads(line)["kind"] == "deploy.started"
    finally:
        follower.terminate()
        follower.wait(10)
