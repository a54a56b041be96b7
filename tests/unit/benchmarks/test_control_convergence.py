"""The convergence benchmark in miniature (real Redis, two control-plane replicas, two sidecars):
the clock runs until the last sidecar has ACKed (one sidecar is stopped for 0.5 s at each write,
so a change cannot converge sooner), each timed change is shown as applied by every sidecar's own
admin API, and no call failed."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from benchmarks import control_convergence as bench

pytestmark = pytest.mark.integration


@pytest.mark.timeout(180)
def test_each_timed_change_is_applied_by_every_sidecar() -> None:
    timers: list[threading.Timer] = []

    def stall_the_last(version: int, sidecars: list[bench.SidecarProcess]) -> None:
        pid = sidecars[-1].proc.pid  # type: ignore[union-attr]
        os.kill(pid, signal.SIGSTOP)
        timers.append(threading.Timer(0.5, os.kill, (pid, signal.SIGCONT)))
        timers[-1].start()

    try:
        result = bench.measure(sidecars_n=2, replicas_n=2, changes=2, before_write=stall_the_last)
    finally:
        for timer in timers:
            timer.join()
    assert len(result.times) == 2 and all(t >= 0.5 for t in result.times), result.times
    assert result.seen == [["1", "1"], ["2", "2"]]
    assert result.ok > 0 and result.failed == []
    assert bench.problems(result) == []


def test_a_sidecar_behind_the_control_plane_is_a_problem() -> None:
    stale = bench.Convergence(times=[0.1], seen=[["1", ""]], ok=5, failed=[])
    assert bench.problems(stale) == ["change 1: sidecars report ['1', '']"]
