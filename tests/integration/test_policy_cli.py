"""`apex policy ...` and `apex instances` as a new user runs them (the README walkthrough)."""

from __future__ import annotations

import json
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


def apex(cp: ControlPlaneProcess, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env_args = [sys.executable, "-m", "sidecar", *args]
    if args[0] in ("policy", "instances"):
        env_args += ["--control-plane", cp.address]
    env = {**os.environ, "APEX_AUTHOR": "alice"}
    result = subprocess.run(env_args, capture_output=True, text=True, timeout=30, env=env)
    if ok:
        assert result.returncode == 0, result.stderr
    return result


def test_history_diff_and_rollback_from_the_cli(echo: BackgroundEcho, cp: ControlPlaneProcess, tmp_path: Path) -> None:
    config = proxy_config(echo.address)
    config.update(control_plane=cp.address, last_good_policy_file=str(tmp_path / "lg.binpb"))
    policy_file = tmp_path / "echo-policy.yaml"
    policy_file.write_text(yaml.safe_dump(config["policy"]))
    with SidecarProcess(config) as sc:
        out = apex(cp, "policy", "set", "--service", "echo", str(policy_file), "-m", "initial policy").stdout
        assert "stored version 1" in out
        assert '+ clusters[echo].endpoints[0].address: "' + echo.address + '"' in out

        out = apex(cp, "policy", "patch", "-s", "echo", "clusters[echo].dns_refresh=2s", "-m", "faster DNS").stdout
        assert "stored version 2" in out and "+ clusters[echo].dns_refresh: 2s" in out

        out = apex(cp, "policy", "patch", "-s", "echo", "clusters[echo].authority=echo.internal").stdout
        assert '+ clusters[echo].authority: "echo.internal"' in out

        # A bad value is refused at the door with the field and the reason; nothing is stored.
        bad = apex(cp, "policy", "patch", "-s", "echo", "clusters[echo].endpoints[0].address=nope", ok=False)
        assert bad.returncode == 1
        assert "policy.clusters[1].endpoints[0].address: bad address 'nope'" in bad.stderr

        history = apex(cp, "policy", "history", "-s", "echo").stdout.splitlines()
        header = ["VERSION", "LIVE", "WHEN", "(UTC)", "SOURCE", "AUTHOR", "ROLLOUT", "CHANGES", "REASON"]
        assert history[0].split() == header
        assert [line.split()[0] for line in history[1:]] == ["3", "2", "1"]
        assert "faster DNS" in history[2] and "alice" in history[2] and "operator" in history[2]

        out = apex(cp, "policy", "diff", "-s", "echo", "1", "3").stdout
        assert out.splitlines() == ["+ clusters[echo].dns_refresh: 2s", '+ clusters[echo].authority: "echo.internal"']

        out = apex(cp, "policy", "rollback", "-s", "echo", "--to", "1", "-m", "undo DNS and authority").stdout
        assert "stored version 4" in out and "- clusters[echo].dns_refresh: 2s" in out
        got = apex(cp, "policy", "get", "-s", "echo").stdout
        assert "# service echo version 4, rollback of 1" in got
        assert yaml.safe_load(got) == config["policy"]  # `get` prints YAML that `set` takes back

        wait_for(lambda: '"applied_version": "4"' in apex(cp, "instances", "--json").stdout, what="version 4 applied")
        listed = json.loads(apex(cp, "instances", "--json").stdout)["instances"]
        assert [(i["service"], i["applied_version"], i["healthy"]) for i in listed] == [("echo", "4", True)]
        table = apex(cp, "instances").stdout
        assert sc["inbound"] in table and "healthy" in table
        seen = apex(cp, "control-status", "--admin", sc["admin"]).stdout
        assert f"control plane:  {cp.address} (connected, 1 connects)" in seen
        assert "policy version: 4" in seen and "pushes:         4 applied, 0 rejected" in seen

        records = json.loads(apex(cp, "policy", "history", "-s", "echo", "--json").stdout)["records"]
        assert [r["version"] for r in records] == ["4", "3", "2", "1"]
        assert records[0]["rollback_of"] == "1"

        # A writer based on a stale version gets a visible conflict (exit code 3).
        stale = apex(cp, "policy", "set", "-s", "echo", str(policy_file), "--expect-version", "2", ok=False)
        assert stale.returncode == 3
        assert "version conflict on 'echo': the change is based on version 2 but the latest is 4" in stale.stderr


def test_set_refuses_an_invalid_file_naming_the_field(cp: ControlPlaneProcess, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("clusters:\n  - name: a\n    endpoints: [{address: 'x:99999'}]\n")
    result = apex(cp, "policy", "set", "-s", "echo", str(bad), ok=False)
    assert result.returncode == 2
    assert f"{bad}: policy.clusters[0].endpoints[0].address: bad address 'x:99999'" in result.stderr
    missing = apex(cp, "policy", "get", "-s", "echo", ok=False)
    assert missing.returncode == 1 and "no policy stored for service 'echo'" in missing.stderr
