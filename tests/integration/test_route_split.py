"""Traffic split through a real sidecar: weights, a runtime weight change (SIGHUP), overrides, fallback."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import grpc
import pytest
import yaml
from apex.mesh.v1 import echo_pb2, echo_pb2_grpc

from sidecar.examples.echo import BackgroundEcho
from tests.integration.route_helpers import Outcome, decisions, drive, mesh_config, policy_version, unary
from tests.support.sidecar_proc import SidecarProcess

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def versions() -> Iterator[tuple[BackgroundEcho, BackgroundEcho]]:
    v1, v2 = BackgroundEcho("v1").start(), BackgroundEcho("v2").start()
    yield v1, v2
    v1.close()
    v2.close()


def _split_config(v1: BackgroundEcho, v2: BackgroundEcho, w1: int, w2: int, version: str) -> dict[str, object]:
    routes = [
        {
            "name": "echo",
            "clusters": [{"cluster": "v1", "weight": w1}, {"cluster": "v2", "weight": w2}],
            "overrides": [{"header": "x-canary", "exact": "true", "cluster": "v2"}],
        }
    ]
    return mesh_config({"v1": [v1.address], "v2": [v2.address]}, routes, version=version)


def test_weights_split_and_header_override(versions: tuple[BackgroundEcho, BackgroundEcho]) -> None:
    v1, v2 = versions
    with SidecarProcess(_split_config(v1, v2, 90, 10, "a")) as sc:
        out = asyncio.run(drive(sc["outbound"], 600, 8))
        canary = asyncio.run(drive(sc["outbound"], 50, 4, metadata=(("x-canary", "true"),)))
        counters = decisions(sc["admin"])["echo"]
        cli = subprocess.run(
            [sys.executable, "-m", "sidecar", "routes", "--admin", sc["admin"], "--json"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        shown = json.loads(cli.stdout)["routes"][0]
        text = subprocess.run(
            [sys.executable, "-m", "sidecar", "routes", "--admin", sc["admin"]],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    assert shown["route"] == "echo" and int(shown["header_overrides"]) == 50
    assert "outbound/echo" in text and f"v2={counters.split['v2']}" in text
    assert all(o.code is grpc.StatusCode.OK for o in out + canary)
    share_v2 = sum(o.served_by == "v2" for o in out) / len(out)
    print(f"\n90/10 split over {len(out)} calls: observed v2 share {share_v2:.3f}")
    assert 0.05 <= share_v2 <= 0.16
    assert all(o.served_by == "v2" for o in canary)
    assert counters.header_overrides == 50
    assert counters.split["v1"] + counters.split["v2"] == 650
    assert counters.split["v2"] == sum(o.served_by == "v2" for o in out) + 50


def test_weight_change_on_sighup_shifts_the_split_within_a_second_without_failures(
    versions: tuple[BackgroundEcho, BackgroundEcho],
) -> None:
    v1, v2 = versions
    sc = SidecarProcess(_split_config(v1, v2, 90, 10, "before")).start()
    try:
        results = asyncio.run(_shift(sc, v1, v2))
    finally:
        sc.close()
    steady, long_calls, signalled, applied_after, shift_after = results
    before = [o for o in steady if o.start < signalled]
    after = [o for o in steady if o.start > signalled + 1.0]
    failures = [o for o in steady + long_calls if o.code is not grpc.StatusCode.OK]
    share_before = sum(o.served_by == "v2" for o in before) / len(before)
    share_after = sum(o.served_by == "v2" for o in after) / len(after)
    print(
        f"\nSIGHUP 90/10 -> 10/90: {len(steady)} calls + {len(long_calls)} long in-flight calls, "
        f"{len(failures)} failed; v2 share before {share_before:.3f} ({len(before)} calls), "
        f"from 1 s after the signal {share_after:.3f} ({len(after)} calls); policy applied "
        f"{applied_after * 1000:.0f} ms after the signal, first call window at >=70% v2 "
        f"{shift_after * 1000:.0f} ms after it"
    )
    assert not failures, failures[:3]
    assert all(o.served_by for o in long_calls)
    assert len(before) >= 50 and len(after) >= 50
    assert share_before <= 0.25
    assert share_after >= 0.75
    assert shift_after <= 1.0


async def _shift(
    sc: SidecarProcess, v1: BackgroundEcho, v2: BackgroundEcho
) -> tuple[list[Outcome], list[Outcome], float, float, float]:
    steady: list[Outcome] = []
    stop = asyncio.Event()
    async with grpc.aio.insecure_channel(sc["outbound"]) as channel:
        stub = echo_pb2_grpc.EchoStub(channel)

        async def worker() -> None:
            while not stop.is_set():
                steady.append(await unary(stub))

        workers = [asyncio.create_task(worker()) for _ in range(4)]
        # Warm up until enough calls have completed under the old weights.
        deadline = time.monotonic() + 20
        while len(steady) < 150 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        # Long calls in flight across the swap: they must finish on their old stack.
        slow = echo_pb2.EchoRequest(payload=b"slow", delay_ms=1500)
        long_calls = [asyncio.create_task(unary(stub, slow)) for _ in range(6)]
        await asyncio.sleep(0.2)
        sc.config_path.write_text(yaml.safe_dump(_split_config(v1, v2, 10, 90, "after")))
        signalled = time.monotonic()
        assert sc.proc is not None
        sc.proc.send_signal(signal.SIGHUP)
        applied_at = None
        while time.monotonic() < signalled + 10:
            if await asyncio.to_thread(policy_version, sc["admin"]) == "after":
                applied_at = time.monotonic()
                break
            await asyncio.sleep(0.02)
        assert applied_at is not None, sc.log()
        # Keep the load on for 2 s after the swap, then stop.
        while time.monotonic() < signalled + 2.5:
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.gather(*workers)
        finished = await asyncio.gather(*long_calls)
    # 2. When did the split shift? The first call started after the signal that ends a run of
    #    30 consecutive calls (by start time) of which at least 70% went to v2.
    ordered = sorted((o for o in steady if o.start >= signalled), key=lambda o: o.start)
    shift_at = float("inf")
    for i in range(30, len(ordered) + 1):
        window = ordered[i - 30 : i]
        if sum(o.served_by == "v2" for o in window) >= 21:
            shift_at = window[0].start
            break
    return steady, list(finished), signalled, applied_at - signalled, shift_at - signalled


def test_fallback_cluster_when_the_primary_has_no_endpoint(versions: tuple[BackgroundEcho, BackgroundEcho]) -> None:
    v1, _ = versions
    routes = [{"name": "echo", "cluster": "primary", "fallback_cluster": "backup"}]
    config = mesh_config({"primary": ["nothing.invalid:50051"], "backup": [v1.address]}, routes)
    with SidecarProcess(config) as sc:
        out = asyncio.run(drive(sc["outbound"], 40, 4))
        counters = decisions(sc["admin"])["echo"]
    assert all(o.code is grpc.StatusCode.OK and o.served_by == "v1" for o in out)
    assert counters.fallbacks == 40 and counters.split["backup"] == 40
