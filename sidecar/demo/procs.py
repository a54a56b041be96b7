"""Start the demo's processes and stop every one of them, by PID, whatever happens."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path


class Supervisor:
    """Owns child processes; `stop_all` terminates them (SIGTERM, then SIGKILL) in reverse order."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[Proc] = []

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Proc:
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                start_new_session=True,  # Ctrl-C reaches the demo only; it stops the children itself
            )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def start_python(self, name: str, module: str, *args: str, env: dict[str, str] | None = None) -> Proc:
        return self.start(name, [sys.executable, "-m", module, *args], env)

    def wait_for_file(self, proc: Proc, path: Path, timeout: float = 30.0) -> dict[str, str]:
        """Wait for a process's ports file (JSON); fail with its log if it dies first."""
        deadline = time.monotonic() + timeout
        while not path.exists():
            if proc.popen.poll() is not None:
                raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}; see {proc.log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{proc.name} not ready after {timeout}s; see {proc.log}")
            time.sleep(0.05)
        data: dict[str, str] = json.loads(path.read_text())
        return data

    def dead(self) -> list[Proc]:
        return [p for p in self.procs if p.popen.poll() is not None]

    def stop_all(self, grace: float = 8.0) -> None:
        for proc in reversed(self.procs):
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in reversed(self.procs):
            try:
                proc.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(5)
