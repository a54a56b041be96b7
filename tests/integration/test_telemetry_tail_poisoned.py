"""`apex telemetry tail` against poisoned windows on a real Redis (issue 10 hardening b).

One window whose histogram had offset 2^31-1 (OverflowError) or an unknown scheme (ValueError)
made `tail` die with a traceback for the whole service; an instance name with ANSI escapes was
printed raw. Bad entries must be reported on one line, counted and skipped; everything printed
must have its control characters escaped.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import redis
from apex.mesh.v1 import telemetry_pb2

pytestmark = pytest.mark.integration
APEX = [sys.executable, "-m", "sidecar"]
ESC = "\x1b"


def window(
    instance: str, sequence: int, *, scheme: int = 1, offset: int = 100, counts: tuple[int, ...] = (2,)
) -> bytes:
    w = telemetry_pb2.TelemetryWindow(service="poisoned", instance=instance, sequence=sequence)
    w.window_start.FromSeconds(1_700_000_000 + sequence)
    w.window.FromSeconds(1)
    r = w.routes.add(listener="inbound", route="r", cluster="c")
    r.stats.calls = sum(counts)
    r.stats.latency.scheme, r.stats.latency.offset = scheme, offset
    r.stats.latency.counts.extend(counts)
    r.stats.latency.count = sum(counts)
    r.stats.latency.sum_seconds = 0.01
    return w.SerializeToString()


def tail(redis_url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*APEX, "telemetry", "tail", "--service", "poisoned", "--redis", redis_url, *extra],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.fixture
def poisoned(redis_url: str) -> str:
    client = redis.Redis.from_url(redis_url)
    key = "apex:telemetry:{poisoned}"
    client.delete(key)
    client.xadd(key, {"window": window("good-1", 1)})
    client.xadd(key, {"window": window("overflow", 2, offset=2**31 - 1)})
    client.xadd(key, {"window": window("scheme", 3, scheme=7)})
    client.xadd(key, {"window": window("short", 4, counts=(1, 1))[:-3]})  # truncated protobuf
    client.xadd(key, {"window": window(f"{ESC}[31mevil{ESC}[0m\nfake line", 5)})
    client.xadd(key, {"window": window("good-2", 6)})
    client.close()
    return redis_url


@pytest.mark.parametrize("as_json", [False, True])
def test_poisoned_windows_are_reported_and_skipped(poisoned: str, as_json: bool) -> None:
    out = tail(poisoned, *(["--json"] if as_json else []))
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    notes = out.stderr.splitlines()
    skipped = [line for line in notes if "skipped" in line]
    assert len(skipped) >= 2, out.stderr  # offset and scheme (the truncated one may or may not parse)
    assert any("offset" in line for line in skipped) and any("scheme" in line for line in skipped)
    assert notes[-1].startswith("apex telemetry: skipped") and "bad" in notes[-1], notes  # a count at the end
    assert ESC not in out.stdout and ESC not in out.stderr
    if as_json:
        lines = [json.loads(line) for line in out.stdout.splitlines()]
        instances = [line["instance"] for line in lines]
        assert "good-1" in instances and "good-2" in instances
        assert f"{ESC}[31mevil{ESC}[0m\nfake line" in instances  # JSON escapes it; the value is intact
    else:
        headers = [line for line in out.stdout.splitlines() if not line.startswith(" ")]
        assert any("good-1" in h for h in headers) and any("good-2" in h for h in headers)
        assert not any(line.startswith("fake line") for line in out.stdout.splitlines())
        assert "\\x1b[31mevil\\x1b[0m\\nfake line" in out.stdout


def test_a_service_name_with_control_characters_is_escaped_in_notes(redis_url: str) -> None:
    out = subprocess.run(
        [*APEX, "telemetry", "tail", "--service", f"x{ESC}[2Jy\nz", "--redis", redis_url],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0 and ESC not in out.stderr and "no windows yet" in out.stderr
    assert len(out.stderr.splitlines()) == 1
