"""The latency suite end to end in its tiny profile: real Echo, real sidecar, real load workers.

Checks the report's structure and that calls flowed; never the figures themselves (no timed assertions).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from benchmarks.suite import Options, run_suite

pytestmark = pytest.mark.integration


@pytest.mark.timeout(300)  # about 30 workload runs and 5 process start-ups; slow only on a loaded machine
def test_tiny_profile_writes_json_markdown_and_plots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # nginx must be skipped cleanly when it is not installed: hide it (and everything else) from PATH
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    options = Options(
        profile="tiny",
        targets=("direct", "sidecar-out", "nginx", "sidecar-cache"),
        duration=0.15,
        rounds=2,
        out=tmp_path,
        command="pytest",
    )
    result = run_suite(options, log=lambda _: None)

    files = result["files"]
    report = json.loads(Path(files["json"]).read_text())
    assert report["profile"] == "tiny"
    assert report["machine"]["cores"] == os.cpu_count()
    assert report["machine"]["libraries"]["grpcio"]
    assert {t["name"] for t in report["targets"]} >= {"direct", "sidecar-out"}
    peak = {t["name"]: t["peak_rss_mb"] for t in report["targets"]}
    assert peak["direct"] is None and peak["sidecar-out"] > 0
    skipped = {s.get("target"): s["reason"] for s in report["skipped"]}
    assert "not installed" in skipped["nginx"]
    cache_ran = any(r["target"] == "sidecar-cache" for r in report["runs"])
    assert cache_ran or any(s.get("workload") == "unary-cache-hit" for s in report["skipped"])

    cases = {r["case"] for r in report["runs"]}
    assert {"unary-100B c=1", "unary-100B c=16", "server-stream c=4", "bidi c=4"} <= cases
    assert len(report["runs"]) == len({(r["case"], r["target"]) for r in report["runs"]})  # one per pair
    for run in report["runs"]:
        # calls flowed (a whole 100-message stream may outlast a 0.15 s window on a loaded machine)
        assert run["completed_total"] > 0, run
        assert len(run["rounds"]) == 2
        assert set(run["latency_us"]) == {"p50", "p90", "p99", "p99.9", "max", "mean"}
        assert run["latency_us"]["p50"] <= run["latency_us"]["p99"] <= run["latency_us"]["max"]
        if run["workload"] == "unary-100B":
            assert run["measured_calls"] > 0, run
        assert run["added_latency_us"] is not None
        assert run["vs_nginx"] is None  # no nginx in this run
        if run["target"] == "direct":
            assert run["proxy_cpu_us_per_call"] is None
        else:
            assert run["proxy_processes"]["sidecar"]["peak_rss_mb"] >= run["proxy_processes"]["sidecar"]["rss_mb"] > 0
            assert run["proxy_cpu_us_per_call"] is not None

    rows = {(r["target"], r["concurrency"]) for r in report["issue2"]}
    assert rows == {("direct", 1), ("direct", 16), ("sidecar-out", 1), ("sidecar-out", 16)}

    text = Path(files["markdown"]).read_text()
    assert "(issue 2)" in text and "## bidi c=4" in text and "**Machine**" in text
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    assert any(p.endswith("cpu-per-call.png") for p in files["plots"])
    assert all(Path(p).stat().st_size > 0 for p in files["plots"])
