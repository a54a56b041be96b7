"""`apex demo` end to end: the whole mesh runs, calls flow, telemetry arrives, an engine acts,
and everything it started is gone afterwards — unattended (--duration) and on Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

APEX = [sys.executable, "-m", "sidecar", "demo"]


def test_demo_runs_unattended_and_an_engine_acts(tmp_path: Path) -> None:
    report = tmp_path / "report"
    run = subprocess.run([*APEX, "--duration", "30", "--period", "24", "--peak", "25", "--report-dir", str(report)],
                         capture_output=True, text=True, timeout=240)  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    summary = json.loads((report / "summary.json").read_text())
    assert summary["ok"] > 100
    assert summary["errors"] <= summary["sent"] * 0.05  # retries and ejection absorb the flaky catalog
    assert summary["telemetry_windows"] > 30
    assert summary["engine_actions"], "no engine action was applied"
    assert "forecaster" in summary["engine_actions"][0] and "cache TTL" in summary["engine_actions"][0]
    assert summary["stray_processes"] == []
    text = (report / "REPORT.md").read_text()
    assert "engine actions applied" in text and "demo.png" in text
    assert (report / "demo.png").stat().st_size > 1000


def test_ctrl_c_stops_everything_and_writes_the_report(tmp_path: Path) -> None:
    report = tmp_path / "report"
    proc = subprocess.Popen([*APEX, "--period", "60", "--report-dir", str(report)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        for line in proc.stdout:  # wait until load is flowing
            if "frontend reachable" in line:
                break
            assert time.monotonic() < deadline
        time.sleep(5)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    summary = json.loads((report / "summary.json").read_text())
    assert summary["ok"] > 0 and summary["stray_processes"] == []
    assert (report / "REPORT.md").exists()
