"""sidecar.cli.policy_wait.progress: who applied, rejected, or still owes an answer for a version."""

from __future__ import annotations

from apex.mesh.v1 import control_pb2

from sidecar.cli.policy_wait import progress


def status(name: str, **kw: object) -> control_pb2.InstanceStatus:
    return control_pb2.InstanceStatus(service="s", instance=name, connected=True, **kw)  # type: ignore[arg-type]


def test_full_rollout_waits_for_every_connected_instance() -> None:
    got = progress([status("a", applied_version="3"), status("b", applied_version="2")], 3, full_rollout=True)
    assert (got.applied, got.pending, got.done) == (["a"], ["b"], False)
    got = progress([status("a", applied_version="3"), status("b", last_nack_version="3")], 3, full_rollout=True)
    assert [s.instance for s in got.nacked] == ["b"] and got.done


def test_canary_waits_only_for_instances_it_was_pushed_to_and_ignores_disconnected() -> None:
    instances = [
        status("a", applied_version="3"),
        status("b", applied_version="2", pushed_version="2"),
        control_pb2.InstanceStatus(service="s", instance="c", connected=False, pushed_version="3"),
    ]
    got = progress(instances, 3, full_rollout=False)
    assert (got.applied, got.pending, got.done) == (["a"], [], True)


def test_nobody_answered_is_not_done() -> None:
    assert not progress([], 1, full_rollout=True).done
