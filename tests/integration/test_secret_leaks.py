"""A planted Redis password, given inline (legacy) or by reference, shows in no output of a sidecar:
`apex admin config` (text and JSON), DEBUG logs, the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis

from sidecar.support.redis_server import RedisServer
from sidecar.support.sidecar_proc import SidecarProcess, proxy_config

pytestmark = pytest.mark.integration

PLANTED = "PlantedSidecarPassw0rd-91b2"


@pytest.mark.parametrize("inline", [False, True], ids=["by-reference", "inline"])
def test_a_planted_redis_password_is_in_no_output(redis_server: RedisServer, echo: Any, inline: bool) -> None:
    redis.Redis.from_url(redis_server.url).config_set("requirepass", PLANTED)
    host_port = redis_server.url.split("://", 1)[1].split("/", 1)[0]
    url = f"redis://default:{PLANTED}@{host_port}/0"
    config = proxy_config(echo.address)
    config["telemetry"] = {"redis_url": url if inline else "env:APEX_TEST_REDIS_URL", "window": "0.1s"}
    config["logging"] = {"level": "DEBUG"}
    with SidecarProcess(config, env={"APEX_TEST_REDIS_URL": url}) as sidecar:
        outputs = []
        for extra in ([], ["--json"]):
            done = subprocess.run(
                [sys.executable, "-m", "sidecar", "admin", "--admin", sidecar["admin"], *extra, "config"],
                capture_output=True, text=True, timeout=30,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            outputs.append(done.stdout + done.stderr)
        assert sidecar.proc is not None
        outputs.append(Path(f"/proc/{sidecar.proc.pid}/cmdline").read_bytes().decode(errors="replace"))
        assert "redis_url" in outputs[0]
    outputs.append(sidecar.log())
    for text in outputs:
        assert PLANTED not in text
