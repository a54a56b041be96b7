"""The convergence benchmark in miniature (real Redis, two control-plane replicas, two sidecars):
each timed change is also shown as applied by every sidecar's own admin API, and no call failed."""

from __future__ import annotations

import pytest

from benchmarks import control_convergence as bench

pytestmark = pytest.mark.integration


@pytest.mark.timeout(180)
def test_each_timed_change_is_applied_by_every_sidecar() -> None:
    result = bench.measure(sidecars_n=2, replicas_n=2, changes=2)
    assert len(result.times) == 2 and all(t > 0 for t in result.times)
    assert result.seen == [["1", "1"], ["2", "2"]]
    assert result.ok > 0 and result.failed == []
    assert bench.problems(result) == []


def test_a_sidecar_behind_the_control_plane_is_a_problem() -> None:
    stale = bench.Convergence(times=[0.1], seen=[["1", ""]], ok=5, failed=[])
    assert bench.problems(stale) == ["change 1: sidecars report ['1', '']"]
