"""A real sidecar with adaptive concurrency in front of an upstream whose latency rises with load.

Enforced mode keeps calls in flight near the learned limit and sheds the excess fast with the
configured status; shadow mode sheds nothing and counts. Figures are printed (run with -s) and
asserted against generous bounds, so they hold on a loaded 2-core machine.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from sidecar.examples.echo import BackgroundEcho
from tests.integration.test_cluster_resilience import Outcome, cluster_state, config, load
from tests.support.sidecar_proc import SidecarProcess

pytestmark = pytest.mark.integration

OFFERED, SECONDS = 24, 4.0
ADAPTIVE: dict[str, Any] = {
    "min_limit": 2,
    "max_limit": 200,
    "initial_limit": 24,
    "sample_window": "100ms",
    "baseline_window": "5s",
    "reject_code": "UNAVAILABLE",
}


@pytest.fixture
def busy() -> Iterator[BackgroundEcho]:
    upstream = BackgroundEcho("busy").start()
    upstream.service.capacity = 3  # serves 3 calls at once; the rest queue inside the server
    upstream.service.delay_ms = 20
    yield upstream
    upstream.close()


def _run_sampling(sidecar: SidecarProcess) -> tuple[list[Outcome], list[tuple[int, int]]]:
    """Load through `sidecar` while sampling (adaptive_in_flight, adaptive_limit) from its admin."""
    samples: list[tuple[int, int]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            state = cluster_state(sidecar)
            samples.append((state.adaptive_in_flight, state.adaptive_limit))
            done.wait(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        outcomes = load(sidecar["outbound"], concurrency=OFFERED, pause_after_error=0.02, duration=SECONDS)
    finally:
        done.set()
        sampler.join()
    return outcomes, samples


def test_enforced_mode_keeps_in_flight_near_the_limit_and_sheds_fast(busy: BackgroundEcho) -> None:
    with SidecarProcess(config([busy.address])) as plain:
        load(plain["outbound"], 20, concurrency=2)
        unlimited = load(plain["outbound"], concurrency=OFFERED, duration=SECONDS)
    with SidecarProcess(config([busy.address], adaptive_concurrency=ADAPTIVE)) as sidecar:
        load(sidecar["outbound"], 40, concurrency=2)  # light load: the baseline learns ~20 ms
        outcomes, samples = _run_sampling(sidecar)
        state = cluster_state(sidecar)
        text = subprocess.run(
            [sys.executable, "-m", "sidecar", "admin", "--admin", sidecar["admin"], "config"],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout  # fmt: skip
    base = statistics.median(o.latency for o in unlimited)
    admitted = [o.latency for o in outcomes if o.code == grpc.StatusCode.OK]
    shed = [o for o in outcomes if o.code == grpc.StatusCode.UNAVAILABLE]
    late = samples[len(samples) // 2 :]  # after convergence
    print(
        f"\n[adaptive] unlimited {len(unlimited)} calls, median {base * 1000:.0f} ms; admitted {len(admitted)}, median "
        f"{statistics.median(admitted) * 1000:.0f} ms; shed {len(shed)}, median "
        f"{statistics.median(o.latency for o in shed) * 1000:.1f} ms; (in_flight, limit) late={late}; "
        f"counters={dict(state.counters)}"
    )
    assert "cluster echo: adaptive_concurrency → balancer:round_robin → connector" in text
    assert len(admitted) + len(shed) == len(outcomes) and shed
    assert "over its adaptive concurrency limit" in shed[0].details
    assert state.counters["adaptive_rejected"] == len(shed)
    assert all(in_flight <= max(limit, 2) + 2 for in_flight, limit in late)  # near the limit
    assert statistics.median(limit for _, limit in late) < OFFERED / 2  # the limit learned the capacity
    # Admitted calls skip much of the upstream's queue. 0.62x and 0.66x were measured with the 2 cores at
    # load average 7-10 (other runs sharing them), so the bound leaves room for a loaded host.
    assert statistics.median(admitted) < 0.75 * base
    assert statistics.median(o.latency for o in shed) < 0.25 * base  # shed fast
    assert len(admitted) > 0.5 * len(unlimited)  # goodput kept: no congestion collapse
    assert state.adaptive_in_flight == 0 and state.adaptive_enforced and state.HasField("adaptive_limit")


def test_shadow_mode_rejects_nothing_and_counts(busy: BackgroundEcho) -> None:
    shadow = {**ADAPTIVE, "enforced": False}
    with SidecarProcess(config([busy.address], adaptive_concurrency=shadow)) as sidecar:
        load(sidecar["outbound"], 40, concurrency=2)
        outcomes, samples = _run_sampling(sidecar)
        state = cluster_state(sidecar)
    print(f"\n[adaptive shadow] {len(outcomes)} calls; (in_flight, limit)={samples[-5:]}; {dict(state.counters)}")
    assert all(o.code == grpc.StatusCode.OK for o in outcomes) and not state.adaptive_enforced
    assert state.counters["adaptive_shadow_would_reject"] > 0 and "adaptive_rejected" not in state.counters
    assert any(in_flight > limit for in_flight, limit in samples)  # over the limit, and let through
