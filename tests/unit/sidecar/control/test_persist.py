"""The last good policy file."""

from __future__ import annotations

from pathlib import Path

from apex.mesh.v1 import control_pb2

from sidecar.control import persist


def push(version: str) -> control_pb2.PolicyPush:
    msg = control_pb2.PolicyPush(version=version, nonce="n1")
    msg.policy.version = version
    msg.policy.clusters.add(name="c").endpoints.add(address="127.0.0.1:1")
    return msg


def test_round_trip_and_overwrite_leave_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "state" / "echo.policy.binpb"
    persist.save(path, push("1"))
    persist.save(path, push("2"))
    assert persist.load(path) == push("2")
    assert [p.name for p in path.parent.iterdir()] == ["echo.policy.binpb"]


def test_missing_corrupt_or_empty_files_load_as_none(tmp_path: Path) -> None:
    assert persist.load(tmp_path / "absent") is None
    (tmp_path / "corrupt").write_bytes(b"\xff\xff\xff")
    assert persist.load(tmp_path / "corrupt") is None
    (tmp_path / "empty").write_bytes(b"")
    assert persist.load(tmp_path / "empty") is None
