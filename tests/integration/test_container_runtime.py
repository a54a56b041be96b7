"""What the container images rely on, run for real: config by environment, `apex admin health`, the caller app."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sidecar.cli import main
from sidecar.examples.echo import BackgroundEcho
from sidecar.support.redis_server import free_port
from sidecar.support.sidecar_proc import SidecarProcess, proxy_config

pytestmark = pytest.mark.integration


def test_sidecar_configured_by_environment_only(echo: BackgroundEcho, tmp_path: Path) -> None:
    config = tmp_path / "sidecar.yaml"
    config.write_text(yaml.safe_dump(proxy_config(echo.address, admin=False)))
    admin = f"127.0.0.1:{free_port()}"
    with SidecarProcess(env={"APEX_CONFIG": str(config), "APEX_ADMIN": admin, "APEX_SERVICE": "from-env"}) as proc:
        assert proc["admin"] == admin  # APEX_ADMIN added an admin listener the file does not have
        assert main(["admin", "--admin", admin, "health"]) == 0
        # the example caller app, dialing the sidecar's outbound listener
        done = subprocess.run(
            [sys.executable, "-m", "sidecar.examples.caller", "--target", proc["outbound"], "--count", "5",
             "--rate", "100"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert "done: calls=5 outcomes={'OK': 5}" in done.stdout


def test_health_fails_when_nothing_serves(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["admin", "--admin", f"127.0.0.1:{free_port()}", "health"]) == 1
