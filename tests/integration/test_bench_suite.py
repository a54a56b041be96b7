"""The latency suite end to end in its tiny profile: real Echo, real sidecars, real load workers, and
nginx / HAProxy when they are installed (when not, the test says so in pytest's warnings summary).

Every target and every kind of case runs (closed and open loop, unary, server-stream, bidi, cache hits),
two rounds each; the profile's other cases (1 KB and 64 KB payloads, cache hits at c=1) repeat those
paths with other sizes and run in `make bench-smoke` (the whole tiny profile).

No timed assertions, but the figures are checked for what they claim: every proxy's CPU time over a
run is above zero and below what the cores could give in its wall time; the cache-hit case on the
cached sidecar hit (CacheAdmin counters) and did not reach the upstream (the upstream's own call
count), while the uncached targets reached it once per call.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import pytest

from benchmarks.checks import problems
from benchmarks.suite import Options, run_suite

pytestmark = pytest.mark.integration

EXTERNAL = ("nginx", "haproxy")


CASES = (
    "unary-100B c=1", "unary-100B c=16", "unary-100B 200/s", "server-stream c=4", "bidi c=4", "unary-cache-hit c=16"
)  # fmt: skip


@pytest.mark.timeout(400)  # about 66 workload runs and 5-7 process start-ups; slow only on a loaded machine
def test_tiny_profile_figures_are_plausible_and_cache_hits_are_hits(tmp_path: Path) -> None:
    installed = {name: shutil.which(name) is not None for name in EXTERNAL}
    for name, found in installed.items():
        if not found:
            warnings.warn(
                f"{name} is not installed: the {name} comparison of the latency suite did not run", stacklevel=1
            )
    options = Options(
        profile="tiny",
        targets=("direct", "sidecar-out", "sidecar-out-h2", "mesh-h2", *EXTERNAL, "sidecar-cache"),
        duration=0.15,
        rounds=2,
        cases=CASES,
        out=tmp_path,
        command="pytest",
    )
    result = run_suite(options, log=lambda _: None)

    files = result["files"]
    report = json.loads(Path(files["json"]).read_text())
    assert report["profile"] == "tiny"
    assert report["machine"]["cores"] == os.cpu_count()
    assert report["machine"]["libraries"]["grpcio"]
    ran = {t["name"] for t in report["targets"]}
    skipped = {s.get("target"): s["reason"] for s in report["skipped"]}
    for name, found in installed.items():
        if found:
            assert name in ran, f"{name} is installed but did not run: {skipped.get(name)}"
        else:
            assert "not installed" in skipped[name]
    assert {"direct", "sidecar-out", "sidecar-out-h2", "mesh-h2", "sidecar-cache"} <= ran, skipped
    peak = {t["name"]: t["peak_rss_mb"] for t in report["targets"]}
    assert peak["direct"] is None and peak["sidecar-out"] > 0 and peak["sidecar-out-h2"] > 0
    # both sidecars of the h2 mesh are measured, each with its own CPU and memory
    mesh_h2 = next(r for r in report["runs"] if r["target"] == "mesh-h2")
    assert set(mesh_h2["proxy_processes"]) == {"sidecar-a", "sidecar-b"}

    cases = {r["case"] for r in report["runs"]}
    assert cases == set(CASES)
    assert {r["mode"] for r in report["runs"]} == {"open", "closed"}
    assert len(report["runs"]) == len({(r["case"], r["target"]) for r in report["runs"]})  # one per pair
    cores = os.cpu_count() or 1
    with_nginx = {r["case"] for r in report["runs"] if r["target"] == "nginx"}
    cpu_by_target: dict[str, float] = {}
    for run in report["runs"]:
        # calls flowed (a whole 100-message stream may outlast a 0.15 s window on a loaded machine)
        assert run["completed_total"] > 0, run
        assert len(run["rounds"]) == 2
        assert set(run["latency_us"]) == {"p50", "p90", "p99", "p99.9", "max", "mean"}
        assert run["latency_us"]["p50"] <= run["latency_us"]["p99"] <= run["latency_us"]["max"]
        if run["workload"] == "unary-100B":
            assert run["measured_calls"] > 0, run
        assert run["added_latency_us"] is not None
        assert (run["vs_nginx"] is not None) == (run["case"] in with_nginx and run["target"] != "direct")
        assert (run["vs_grpc"] is not None) == (run["target"] == "sidecar-out-h2")  # mesh's grpc twin not run
        calls = run["upstream_calls"]
        if run["target"] == "sidecar-cache":
            cache = run["cache"]
            assert cache["hits"] >= run["completed_total"] - 1 and cache["misses"] <= 1, (run["case"], cache)
            assert calls <= 1, f"{run['case']}: {calls} cache-hit calls reached the upstream"
        elif run["workload"].startswith("unary"):  # every completed call reached the upstream once
            assert calls >= run["completed_total"], (run["case"], run["target"], calls)
        if run["target"] == "direct":
            assert run["proxy_cpu_us_per_call"] is None
            continue
        for label, proc in run["proxy_processes"].items():
            # CPU really read: no more than the cores could give over the run; above zero for a
            # sidecar (hundreds of µs a call), and over all its runs for nginx/HAProxy (whose few ms
            # in a 0.15 s run can fall under one 10 ms clock tick)
            assert 0 <= proc["cpu_s"] <= run["wall_s"] * cores, (run["case"], run["target"], label, proc)
            assert proc["cpu_s"] > 0 or run["target"] in EXTERNAL, (run["case"], run["target"], label, proc)
            cpu_by_target[run["target"]] = cpu_by_target.get(run["target"], 0.0) + proc["cpu_s"]
            assert proc["peak_rss_mb"] >= proc["rss_mb"] > 0
    assert all(cpu > 0 for cpu in cpu_by_target.values()), cpu_by_target
    assert problems(report) == []

    # one row per case that ran on both sidecar-out and sidecar-out-h2, with figures for both transports
    both = {r["case"] for r in report["runs"] if r["target"] == "sidecar-out-h2"}
    assert {(row["case"], row["path"]) for row in report["transports"]} == {(c, "sidecar-out") for c in both}
    for row in report["transports"]:
        assert all(v is not None and v > 0 for v in row["cpu_us_per_call"]), row
        assert row["h2_vs_grpc"]["cpu_us_per_call"] is not None

    rows = {(r["target"], r["concurrency"]) for r in report["issue2"]}
    assert rows == {("direct", 1), ("direct", 16), ("sidecar-out", 1), ("sidecar-out", 16)}

    text = Path(files["markdown"]).read_text()
    assert "(issue 2)" not in text and "## bidi c=4" in text and "**Machine**" in text
    assert "cache hits" in text
    assert "## Transports: h2 beside grpc" in text and "| unary-100B c=1 | sidecar-out |" in text
    assert any(p.endswith("cpu-per-call.png") for p in files["plots"])
    assert all(Path(p).stat().st_size > 0 for p in files["plots"])
