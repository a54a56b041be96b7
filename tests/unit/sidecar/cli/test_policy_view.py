"""Readable output of `apex policy` / `apex instances`."""

from __future__ import annotations

from apex.mesh.v1 import config_pb2, control_pb2

from sidecar.cli import policy_view as view
from sidecar.config.yaml_proto import fill

DATA = {
    "route_tables": [{"name": "inbound", "routes": [{"name": "all", "cluster": "local"}]}],
    "clusters": [{"name": "local", "endpoints": [{"address": "127.0.0.1:80", "weight": 2}], "dns_refresh": "250ms"}],
}


def record(version: int, stable: int, percent: float = 100.0, **kw: object) -> control_pb2.PolicyRecord:
    rec = control_pb2.PolicyRecord(
        service="echo", version=version, stable_version=stable, rollout_percent=percent, author="alice", **kw
    )
    rec.created_at.FromSeconds(1_700_000_000 + version)
    return rec


def test_to_data_gives_back_the_yaml_shape_fill_takes() -> None:
    msg = fill(config_pb2.Policy(), DATA)
    assert view.to_data(msg) == DATA
    boot = config_pb2.Bootstrap()
    boot.listeners.add(name="in", direction=config_pb2.Listener.INBOUND)
    boot.node.labels["b"] = "2"
    assert view.to_data(boot) == {"node": {"labels": {"b": "2"}}, "listeners": [{"name": "in", "direction": "INBOUND"}]}


def test_history_marks_the_live_version_and_an_open_canary_only() -> None:
    records = [
        record(4, 3, 20, reason="try"),
        record(3, 3, reason="undo", rollback_of=1),
        record(2, 3, 50),  # a canary superseded by version 3
        record(1, 3, source=control_pb2.TUNER),
    ]
    lines = view.history_table(records).splitlines()
    assert lines[0].split()[:3] == ["VERSION", "LIVE", "WHEN"]
    assert lines[1].split()[:2] == ["4", "canary"]
    assert lines[2].split()[:2] == ["3", "*"] and lines[2].endswith("undo (rollback of 1)")
    assert lines[3].split()[1] == "2023-11-14"  # no mark
    assert "tuner" in lines[4]


def test_diff_text_and_instances_table() -> None:
    changes = [
        control_pb2.FieldChange(path="a", kind=control_pb2.FieldChange.ADDED, new_value="1"),
        control_pb2.FieldChange(path="b", kind=control_pb2.FieldChange.REMOVED, old_value="2"),
        control_pb2.FieldChange(path="c", kind=control_pb2.FieldChange.CHANGED, old_value="3", new_value="4"),
    ]
    assert view.diff_text(changes) == "+ a: 1\n- b: 2\n~ c: 3 -> 4"
    assert view.diff_text([]) == "(no changes)"
    status = control_pb2.InstanceStatus(
        service="echo",
        instance="echo-1",
        connected=True,
        healthy=False,
        applied_version="3",
        last_nack_version="4",
        last_nack_field="policy.route_tables",
        last_nack_reason="missing",
    )
    row = view.instances_table([status]).splitlines()[1]
    assert row.split()[:6] == ["echo", "echo-1", "-", "stale", "3", "-"]
    assert row.endswith("v4 policy.route_tables: missing")
