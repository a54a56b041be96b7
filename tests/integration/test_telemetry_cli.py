"""`apex sidecar --service S --redis URL` publishes; `apex telemetry tail` reads it back."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from sidecar.examples.echo import BackgroundEcho
from tests.support.observed import poll, unary
from tests.support.sidecar_proc import SidecarProcess

pytestmark = pytest.mark.integration
APEX = [sys.executable, "-m", "sidecar"]


def tail_json(service: str, redis_url: str) -> list[dict[str, object]]:
    out = subprocess.run(
        [*APEX, "telemetry", "tail", "--service", service, "--redis", redis_url, "--json", "--all"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return [json.loads(line) for line in out.stdout.splitlines()]


def calls(lines: list[dict[str, object]]) -> int:
    return sum(int(x["calls"]) for x in lines)  # type: ignore[call-overload]


def test_one_line_sidecar_publishes_and_tail_prints_json(echo: BackgroundEcho, redis_url: str) -> None:
    service = "oneline"
    args = ["--listen", "127.0.0.1:0", "--upstream", echo.address, "--admin", "127.0.0.1:0",
            "--service", service, "--redis", redis_url]  # fmt: skip
    with SidecarProcess(args=args) as proc:
        unary(proc["proxy"], 12)
        lines = poll(lambda: tail_json(service, redis_url), lambda ls: calls(ls) >= 12)
        follower = subprocess.Popen(
            [*APEX, "telemetry", "tail", "--service", service, "--redis", redis_url, "--json", "--follow", "--all"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        followed: list[dict[str, object]] = []

        def read() -> None:
            assert follower.stdout is not None
            for line in follower.stdout:
                followed.append(json.loads(line))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            time.sleep(0.5)
            unary(proc["proxy"], 5)
            poll(lambda: calls(followed), lambda n: n >= 17, timeout=30)
        finally:
            follower.kill()
            follower.wait(10)
            reader.join(10)
    assert calls(lines) == 12
    first = lines[0]
    assert {"service", "instance", "window_start", "calls", "errors", "routes"} <= set(first)
    assert first["service"] == service and str(first["instance"]).startswith(service)
    routes = [r for line in lines for r in line["routes"]]  # type: ignore[attr-defined]
    assert {(r["listener"], r["route"], r["cluster"]) for r in routes} == {("proxy", "all", "upstream")}
    assert sum(r["status_codes"].get("OK", 0) for r in routes) == 12
    assert calls(followed) == 17  # the 12 already in the stream, then the 5 made while following


def test_tail_on_an_empty_stream_says_so(redis_url: str) -> None:
    out = subprocess.run(
        [*APEX, "telemetry", "tail", "--service", "nobody-here", "--redis", redis_url],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert out.returncode == 0 and out.stdout == "" and "no windows yet" in out.stderr


def test_tail_without_last_shows_a_bounded_recent_tail(redis_url: str) -> None:
    """Before: no --last read the whole stream (up to stream_maxlen windows per service)."""
    import redis
    from apex.mesh.contract.streams import telemetry_key
    from apex.mesh.v1 import telemetry_pb2

    service = "tail-bounded"
    client = redis.Redis.from_url(redis_url)
    client.delete(telemetry_key(service))
    for n in range(30):
        w = telemetry_pb2.TelemetryWindow(service=service, instance="i", sequence=n + 1)
        client.xadd(telemetry_key(service), {"window": w.SerializeToString()})
    client.close()

    def sequences(*extra: str) -> list[int]:
        out = subprocess.run(
            [*APEX, "telemetry", "tail", "--service", service, "--redis", redis_url, "--json", *extra],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        return [int(json.loads(line)["sequence"]) for line in out.stdout.splitlines()]

    assert sequences() == list(range(11, 31))  # the newest 20, oldest first
    assert sequences("--last", "3") == [28, 29, 30]
    assert sequences("--all") == list(range(1, 31))
