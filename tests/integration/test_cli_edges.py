"""Rough edges a new user hit, fixed: --version, `apex clusters` defaults --admin, an unknown
--cluster is an error, and a closed pipe ends the command quietly (issue 15)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sidecar import __version__
from tests.support.sidecar_proc import SidecarProcess

pytestmark = pytest.mark.integration

APEX = [sys.executable, "-m", "sidecar"]


def apex(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*APEX, *args], capture_output=True, text=True, timeout=60, env=env)


def test_version() -> None:
    done = apex("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"apex {__version__}"


def test_clusters_defaults_admin_and_rejects_an_unknown_cluster(sidecar: SidecarProcess) -> None:
    env = {**os.environ, "APEX_ADMIN": sidecar["admin"]}
    done = apex("clusters", env=env)  # no --admin: $APEX_ADMIN, like the other commands
    assert done.returncode == 0, done.stderr
    assert "cluster " in done.stdout
    nope = apex("clusters", "--cluster", "nope", env=env)
    assert nope.returncode == 1 and nope.stdout == ""
    assert "cluster 'nope' not found" in nope.stderr


def test_a_closed_pipe_ends_without_a_traceback(redis_url: str) -> None:
    """`apex ... | head`: the reader is gone before the command writes; before the fix Python
    printed 'Exception ignored ... BrokenPipeError' and exited 120."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [*APEX, "stat", "--service", "edge-pipe", "--redis", redis_url],
            stdout=write, stderr=subprocess.PIPE, text=True, timeout=60,
        )  # fmt: skip
    finally:
        os.close(write)
    assert "BrokenPipeError" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 141


def test_the_forecaster_says_what_it_does_when_it_starts(redis_url: str) -> None:
    proc = subprocess.Popen(
        [*APEX, "forecaster", "--redis", redis_url, "--control-plane", "127.0.0.1:1"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
    finally:
        proc.terminate()
        proc.wait(10)
    assert first.startswith(f"apex forecaster: reading telemetry from {redis_url}"), first
    assert "control plane at 127.0.0.1:1" in first


@pytest.mark.parametrize("command", ["control-status", "instances", "demo", "stat", "top", "health"])
def test_commands_explain_themselves(command: str) -> None:
    done = apex(command, "--help")
    assert done.returncode == 0
    _, _, rest = done.stdout.partition("\n\n")
    description = rest.split("\n\n")[0]
    assert not description.startswith("options:") and len(description) > 40, done.stdout


def test_bash_completion_script_completes_commands_and_options(tmp_path: object) -> None:
    script = apex("completion", "bash")
    assert script.returncode == 0

    def complete(*words: str) -> list[str]:
        line = " ".join(words)
        probe = (
            f"{script.stdout}\nCOMP_WORDS=(apex {line}); COMP_CWORD={len(words)}; _apex; "
            'printf "%s\\n" "${COMPREPLY[@]}"'
        )
        done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30, check=True)
        return done.stdout.split()

    assert complete("pol") == ["policy"]
    assert complete("policy", "se") == ["set"]
    assert "--wait" in complete("policy", "set", "--w")
    assert complete("stat", "--si") == ["--since"]
