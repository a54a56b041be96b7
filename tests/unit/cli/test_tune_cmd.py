"""`apex tune simulate`: a short scenario gives every policy's row and the gain line; a bad file exits 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sidecar.cli import main

SHORT = """name: short
duration: 6s
seed: 1
slo: {latency: 100ms}
endpoints:
  - {capacity: 400, latency: 5ms}
  - {capacity: 400, latency: 5ms, events: [{at: 3s, error_rate: 0.5}]}
load:
  - {at: 0s, rate: 200}
"""


def test_simulate_prints_every_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(SHORT)
    assert main(["tune", "simulate", "--scenario", str(f), "--episodes", "1"]) == 0
    out = capsys.readouterr().out
    for name in ("default", "oracle", "envoy-gradient", "gradient2", "peak-ewma", "tuned"):
        assert f"\n{name} " in out
    assert out.strip().splitlines()[-1].startswith("goodput_gain=")
    assert main(["tune", "simulate", "--scenario", str(f), "--episodes", "0", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in data["results"]][-1] == "tuned"
    assert set(data["results"][0]) >= {"goodput", "p50", "p99", "error_rate", "staleness", "time_to_adapt", "final"}


def test_a_bad_scenario_exits_2_naming_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(SHORT.replace("rate: 200", "rate: -1"))
    assert main(["tune", "simulate", "--scenario", str(f)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml: load[0].rate: must be non-negative" in err
