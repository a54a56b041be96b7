"""`apex tune scenario` with real processes: a short scenario end to end, and its argument errors.

The short run starts a real Redis, the control plane, two upstream processes, a sidecar joined to
the control plane and a load-generator process, for default and tuned (the tuner trained for one
simulator episode), ~5 s of scenario each after 0.5 s of warm-up load. Figures are checked loosely
(the machine is shared):
what must hold is that calls went through the mesh, that staleness is measured (the default TTL
of 30 s against keys updated every 0.5 s serves stale answers), and the output's shape.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sidecar.cli import main

pytestmark = pytest.mark.integration

SHORT = """name: short-real
duration: 5s
seed: 3
slo: {latency: 100ms}
endpoints:
  - {capacity: 300, latency: 5ms}
  - {capacity: 300, latency: 5ms, events: [{at: 3s, error_rate: 0.5}]}
load:
  - {at: 0s, rate: 100}
  - {at: 3s, rate: 150}
cache: {keys: 20, zipf: 1.1, update_interval: 0.5s}
"""


def _rows(out: str) -> dict[str, list[str]]:
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("policy "))
    rows = {}
    for line in lines[header + 1 :]:
        if line.startswith("goodput_gain="):
            break
        cells = line.split()
        rows[cells[0]] = cells[1:]
    return rows


def test_a_short_scenario_runs_default_and_tuned_on_real_processes(tmp_path: Path) -> None:
    f = tmp_path / "short.yaml"
    f.write_text(SHORT)
    proc = subprocess.run(
        [sys.executable, "-m", "sidecar", "tune", "scenario", "--scenario", str(f), "--episodes", "1",
         "--sidecars", "1", "--warmup", "0.5"],
        capture_output=True, text=True, timeout=110,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert re.fullmatch(r"goodput_gain=\d+\.\d{3} p99_gain=\d+\.\d{3}", out.strip().splitlines()[-1]), out
    assert "real processes: short-real at time scale 1 (5 s), rate scale 1, 1 sidecar(s); tuned = " in out
    rows = _rows(out)
    assert set(rows) == {"default", "tuned"}
    goodput, good_pct, p50_ms, p99_ms, err_pct, stale_pct = (float(x) for x in rows["default"][:6])
    # offered: 100/s for 3 s then 150/s: ~120/s on average; most answers are cache hits
    assert 80 < goodput < 160, out
    assert good_pct > 80 and 0 < p50_ms < 50 and p99_ms > 0 and err_pct < 20, out
    assert stale_pct > 20, out  # TTL 30 s, keys updated every 0.5 s: the answers are mostly stale
    assert "cap=1024 tries=3" in " ".join(rows["default"]), out
    assert "short-real: tuned done" in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--time-scale", "0"], "--time-scale: must be a positive number"),
        (["--rate-scale", "-1"], "--rate-scale: must be a positive number"),
        (["--duration", "1s"], "--duration: at least 2s"),
        (["--duration", "soon"], "--duration: expected a duration"),
        (["--episodes", "-1"], "--episodes must be >= 0"),
        (["--sidecars", "0"], "--sidecars: between 1 and 8"),
        (["--warmup", "-1"], "--warmup: must be a number >= 0"),
    ],
)
def test_bad_arguments_exit_2_naming_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    f = tmp_path / "short.yaml"
    f.write_text(SHORT)
    assert main(["tune", "scenario", "--scenario", str(f), *args]) == 2
    assert message in capsys.readouterr().err


def test_a_bad_scenario_file_exits_2_naming_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(SHORT.replace("capacity: 300, latency: 5ms}", "capacity: 0, latency: 5ms}", 1))
    assert main(["tune", "scenario", "--scenario", str(f)]) == 2
    assert "bad.yaml: endpoints[0].capacity: must be positive" in capsys.readouterr().err
