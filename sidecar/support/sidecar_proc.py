"""Run `apex sidecar` as a real subprocess (tests, benchmarks) and stop it by PID."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from sidecar.cli.env import SIDECAR_ENV

APEX = [sys.executable, "-m", "sidecar"]


class SidecarProcess:
    """A sidecar started from a config dict (written to a temp YAML file) or from CLI args."""

    def __init__(
        self, config: dict[str, Any] | None = None, args: list[str] | None = None, env: dict[str, str] | None = None
    ) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="apex-sidecar-")
        self.config_path = Path(self._dir.name) / "sidecar.yaml"
        self.ports_path = Path(self._dir.name) / "ports.json"
        self.log_path = Path(self._dir.name) / "sidecar.log"
        self.args = list(args or [])
        if config is not None:
            self.config_path.write_text(yaml.safe_dump(config))
            self.args = ["--config", str(self.config_path), *self.args]
        # hermetic: the sidecar's own APEX_* variables from the caller's environment do not leak in
        # (APEX_REDIS_URL points tests at a shared Redis; it must not become every sidecar's --redis)
        inherited = {k: v for k, v in os.environ.items() if k not in SIDECAR_ENV.values()}
        self.env = {**inherited, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.ports: dict[str, str] = {}

    def start(self, timeout: float = 20.0) -> SidecarProcess:
        return self.spawn().ready(timeout)

    def spawn(self) -> SidecarProcess:
        """Start the process without waiting for it (`ready` waits): several sidecars start side by side."""
        self.ports_path.unlink(missing_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [*APEX, "sidecar", *self.args, "--ports-file", str(self.ports_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        return self

    def ready(self, timeout: float = 20.0) -> SidecarProcess:
        """Wait until the spawned sidecar has bound its ports (it writes the ports file then)."""
        assert self.proc is not None, "spawn() first"
        deadline = time.monotonic() + timeout
        while not self.ports_path.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"sidecar exited with {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"sidecar not ready within {timeout}s:\n{self.log()}")
            time.sleep(0.02)
        self.ports = json.loads(self.ports_path.read_text())
        return self

    def __getitem__(self, listener: str) -> str:
        return self.ports[listener]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (graceful drain), then SIGKILL if it lingers; return the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        code = self.proc.returncode
        self.proc = None
        return code

    def close(self) -> None:
        self.stop()
        self._dir.cleanup()

    def __enter__(self) -> SidecarProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_all(*sidecars: SidecarProcess, timeout: float = 30.0) -> tuple[SidecarProcess, ...]:
    """Start sidecars side by side (their start-up is mostly imports: on several cores this is quicker than
    one after the other); if one fails, stop the others and raise its error."""
    try:
        for sc in sidecars:
            sc.spawn()
        for sc in sidecars:
            sc.ready(timeout)
    except BaseException:
        for sc in sidecars:
            sc.stop()
        raise
    return sidecars


def proxy_config(upstream: str, *, service: str = "echo", admin: bool = True) -> dict[str, Any]:
    """A config with an inbound listener to `upstream` and an outbound one routing Echo there too."""
    config: dict[str, Any] = {
        "node": {"service": service},
        "listeners": [
            {"name": "inbound", "address": "127.0.0.1:0", "direction": "INBOUND"},
            {"name": "outbound", "address": "127.0.0.1:0", "direction": "OUTBOUND"},
        ],
        "policy": {
            "route_tables": [
                {"name": "inbound", "routes": [{"name": "local", "cluster": "local"}]},
                {
                    "name": "outbound",
                    "routes": [
                        {"name": "echo", "match": {"service": "apex.mesh.v1.Echo"}, "cluster": "echo"},
                    ],
                },
            ],
            "clusters": [
                {"name": "local", "endpoints": [{"address": upstream}]},
                {"name": "echo", "endpoints": [{"address": upstream}]},
            ],
        },
    }
    if admin:
        config["admin"] = {"address": "127.0.0.1:0"}
    return config
