"""`apex policy set --wait` waits for the sidecars' ACK (exit 0) or NACK (exit 1, with the reason),
and `apex policy history` marks a version live only when a sidecar applied it (issue 15)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from sidecar.examples.echo import BackgroundEcho
from tests.support.control_plane_proc import ControlPlaneProcess, wait_for
from tests.support.sidecar_proc import SidecarProcess, proxy_config

pytestmark = pytest.mark.integration


@pytest.fixture
def cp(redis_url: str) -> Iterator[ControlPlaneProcess]:
    with ControlPlaneProcess(redis_url) as proc:
        yield proc


def apex(cp: ControlPlaneProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "APEX_AUTHOR": "alice"}
    return subprocess.run(
        [sys.executable, "-m", "sidecar", *args, "--control-plane", cp.address],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


def test_wait_returns_on_ack_and_fails_on_nack(echo: BackgroundEcho, cp: ControlPlaneProcess, tmp_path: Path) -> None:
    config = proxy_config(echo.address, service="waiter")
    config.update(control_plane=cp.address, last_good_policy_file=str(tmp_path / "lg.binpb"))
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(config["policy"]))
    bad_policy = yaml.safe_load(good.read_text())
    bad_policy["route_tables"][0]["name"] = "not-inbound"  # valid alone; the sidecar's listener needs its table
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(bad_policy))
    with SidecarProcess(config):
        wait_for(lambda: "waiter" in apex(cp, "instances").stdout, what="sidecar registered")
        ok = apex(cp, "policy", "set", "-s", "waiter", str(good), "--wait", "20")
        assert ok.returncode == 0, ok.stderr
        assert "version 1: applied by 1, rejected by 0, waiting for 0" in ok.stdout

        nack = apex(cp, "policy", "set", "-s", "waiter", str(bad), "--wait", "20")
        assert nack.returncode == 1
        assert "version 2: applied by 0, rejected by 1" in nack.stdout
        assert "NACK " in nack.stdout and "missing route table(s) for listeners" in nack.stdout

        rows = apex(cp, "policy", "history", "-s", "waiter").stdout.splitlines()
        v2 = next(line for line in rows if line.split()[0] == "2")
        v1 = next(line for line in rows if line.split()[0] == "1")
        assert "stored, not applied (1 NACKs)" in v2  # before: marked "*" (live) though rejected
        assert "*" not in v2 and "(1 applied)" not in v2
        assert "running (1 applied)" in v1  # what the sidecar kept after rejecting version 2


def test_wait_with_no_sidecar_times_out_non_zero(cp: ControlPlaneProcess, echo: BackgroundEcho, tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(yaml.safe_dump(proxy_config(echo.address)["policy"]))
    done = apex(cp, "policy", "set", "-s", "nobody", str(policy), "--wait", "1")
    assert done.returncode == 1
    assert "no connected sidecar of nobody took version 1 within 1s" in done.stderr
