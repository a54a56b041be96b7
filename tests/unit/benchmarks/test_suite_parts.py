"""The suite's pure parts: sharing a run between workers, comparisons against direct and nginx, configs."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks import cli, report, suite, targets
from benchmarks.hist import Histogram
from benchmarks.load import Job, split


def test_open_loop_split_keeps_the_rate_and_interleaves_phases() -> None:
    jobs = split(Job("a", "unary", "/m", b"", "open", rate=1000.0), 4)
    assert sum(j.rate for j in jobs) == pytest.approx(1000.0)
    assert sorted(j.phase for j in jobs) == pytest.approx([0.0, 0.001, 0.002, 0.003])


def test_closed_loop_split_shares_the_loops_and_uses_no_idle_workers() -> None:
    assert [j.concurrency for j in split(Job("a", "unary", "/m", b"", "closed", concurrency=5), 2)] == [3, 2]
    assert [j.concurrency for j in split(Job("a", "unary", "/m", b"", "closed", concurrency=1), 4)] == [1]


def _run(
    target: str, p50: float, p99: float, cpu: float | None, rss: float | None, tput: float = 100.0
) -> dict[str, Any]:
    return {
        "case": "unary-100B c=1",
        "workload": "unary-100B",
        "mode": "closed",
        "concurrency": 1,
        "target": target,
        "latency_us": {"p50": p50, "p90": p99, "p99": p99},
        "throughput": tput,
        "proxy_cpu_us_per_call": cpu,
        "proxy_rss_mb": rss,
    }


def test_compare_adds_latency_vs_direct_and_ratios_to_nginx() -> None:
    runs = [
        _run("direct", 100, 200, None, None),
        _run("nginx", 150, 300, 50, 10),
        _run("sidecar-out", 400, 900, 500, 40),
    ]
    suite.compare(runs)
    direct, nginx, sidecar = runs
    assert direct["added_latency_us"] == {"p50": 0, "p90": 0, "p99": 0}
    assert sidecar["added_latency_us"]["p50"] == 300
    assert sidecar["vs_nginx"]["added_p50"] == 6.0  # 300 added vs nginx's 50
    assert sidecar["vs_nginx"]["cpu_us_per_call"] == 10.0
    assert sidecar["vs_nginx"]["rss_mb"] == 4.0
    assert nginx["vs_nginx"]["p99"] == 1.0
    assert direct["vs_nginx"] is None


def test_h2_targets_are_compared_with_their_grpc_twin_and_with_nginx() -> None:
    runs = [
        _run("direct", 100, 200, None, None, tput=1000),
        _run("nginx", 150, 300, 50, 10, tput=900),
        _run("sidecar-out", 500, 900, 400, 60, tput=400),
        _run("sidecar-out-h2", 300, 600, 200, 30, tput=800),
        _run("mesh-h2", 600, 900, 500, 50),  # its grpc twin did not run: no h2/grpc ratios
    ]
    suite.compare(runs)
    by = {r["target"]: r for r in runs}
    h2 = by["sidecar-out-h2"]
    assert h2["vs_grpc"]["cpu_us_per_call"] == 0.5
    assert h2["vs_grpc"]["added_p50"] == 0.5  # 200 added vs grpc's 400
    assert h2["vs_grpc"]["throughput"] == 2.0
    assert h2["vs_nginx"]["cpu_us_per_call"] == 4.0
    assert by["sidecar-out"]["vs_grpc"] is None and by["mesh-h2"]["vs_grpc"] is None
    assert by["mesh-h2"]["vs_nginx"]["cpu_us_per_call"] == 10.0
    rows = suite.transport_rows(runs)
    assert [(r["case"], r["path"]) for r in rows] == [("unary-100B c=1", "sidecar-out")]
    assert rows[0]["cpu_us_per_call"] == (400, 200) and rows[0]["added_p50_us"] == (400, 200)
    assert rows[0]["grpc_vs_nginx"]["cpu_us_per_call"] == 8.0
    text = "\n".join(report.transport_table({"transports": rows}))
    row = "| unary-100B c=1 | sidecar-out | 400 | 200 | 0.50x | 8.00x | 4.00x | 400 | 200 | 0.50x | 400 | 800 | 2.00x |"
    assert row in text


def test_every_sidecar_target_has_an_h2_twin_built_from_the_same_config() -> None:
    assert {"sidecar-out-h2", "mesh-h2"} <= set(suite.STANDARD_TARGETS) <= set(targets.BUILDERS) | {"sidecar-cache"}
    out = targets.outbound_config("127.0.0.1:9", transport="h2")
    assert out["listeners"][0]["transport"] == "h2" and out["policy"]["clusters"][0]["transport"] == "h2"
    inbound = targets.inbound_config("127.0.0.1:9", "h2")
    assert inbound["listeners"][0]["transport"] == "h2" and inbound["policy"]["clusters"][0]["transport"] == "h2"
    assert targets.outbound_config("127.0.0.1:9")["listeners"][0]["transport"] == "grpc"


def test_ratio_to_a_non_positive_reference_is_not_reported() -> None:
    runs = [_run("direct", 100, 200, None, None), _run("nginx", 90, 190, 50, 10), _run("mesh", 300, 600, 900, 80)]
    suite.compare(runs)
    assert runs[2]["vs_nginx"]["added_p50"] is None  # nginx's added latency is negative (noise)


def test_without_nginx_there_are_no_ratios() -> None:
    runs = [_run("direct", 100, 200, None, None), _run("sidecar-out", 400, 900, 500, 40)]
    suite.compare(runs)
    assert runs[1]["vs_nginx"] is None


def test_issue2_rows_are_direct_and_sidecar_at_each_concurrency() -> None:
    runs = [_run("sidecar-out", 400, 900, 500, 40), _run("direct", 100, 200, None, None), _run("mesh", 1, 2, 3, 4)]
    rows = suite.issue2_rows(runs)
    assert [r["target"] for r in rows] == ["direct", "sidecar-out"]
    assert rows[1]["sidecar_cpu_us_per_call"] == 500


def test_every_profile_covers_every_workload_and_the_issue2_concurrencies() -> None:
    for profile in suite.PROFILES.values():
        assert {c.workload for c in profile.cases} == set(suite.WORKLOADS)
        unary = {c.concurrency for c in profile.cases if c.workload == "unary-100B" and c.mode == "closed"}
        assert {1, 16} <= unary
    default = suite.PROFILES["default"]
    assert {c.rate for c in default.cases if c.workload == "unary-100B" and c.mode == "open"} == {500, 1000, 2000}


def test_cli_names_match_the_suite() -> None:
    assert set(cli.PROFILE_NAMES) == set(suite.PROFILES)
    assert (*suite.STANDARD_TARGETS, "sidecar-cache") == cli.TARGET_NAMES


def test_sidecar_configs_route_echo_and_merge_the_cache_policy() -> None:
    out = targets.outbound_config("127.0.0.1:9", cache=targets.DEFAULT_CACHE_POLICY)
    assert out["listeners"][0]["direction"] == "OUTBOUND"
    assert out["policy"]["clusters"][0]["endpoints"][0]["address"] == "127.0.0.1:9"
    assert out["policy"]["cache"] == targets.DEFAULT_CACHE_POLICY["cache"]
    assert out["policy"]["cache"] is not targets.DEFAULT_CACHE_POLICY["cache"]  # a copy
    inbound = targets.inbound_config("127.0.0.1:9")
    assert inbound["listeners"][0]["direction"] == "INBOUND"


def test_proxy_configs_point_at_the_upstream() -> None:
    nginx = targets.nginx_config(8001, "127.0.0.1:9", targets.Path("/tmp/x"))
    assert "listen 127.0.0.1:8001 http2;" in nginx and "server 127.0.0.1:9;" in nginx and "grpc_pass" in nginx
    haproxy = targets.haproxy_config(8002, "127.0.0.1:9")
    assert "bind 127.0.0.1:8002 proto h2" in haproxy and "server echo 127.0.0.1:9 proto h2" in haproxy


def test_markdown_has_the_issue2_table_and_a_table_per_case() -> None:
    hist = Histogram()
    hist.record(500)
    runs = [
        {
            **_run("direct", 100, 200, None, None),
            "unit": "calls/s",
            "errors": {},
            "dropped": 0,
            "histogram": hist.to_dict(),
        },
        {
            **_run("sidecar-out", 400, 900, 500, 40),
            "unit": "calls/s",
            "errors": {"UNAVAILABLE": 2},
            "dropped": 1,
            "histogram": hist.to_dict(),
        },
    ]
    for r in runs:
        r["latency_us"] |= {"p99.9": 1.0, "max": 2.0}
    suite.compare(runs)
    result = {
        "profile": "tiny",
        "command": "apex bench",
        "started": "t0",
        "finished": "t1",
        "settings": {"duration_s": 1, "warmup_s": 0.1, "workers": 2},
        "machine": {
            "cores": 2,
            "cpu_model": "cpu",
            "memory_gb": 1,
            "os": "Linux",
            "load_average_at_start": [0],
            "python": "3.11",
            "python_implementation": "CPython",
            "libraries": {"grpcio": "1"},
            "tools": {},
        },
        "targets": [{"name": "direct", "description": "d"}],
        "skipped": [{"target": "nginx", "reason": "not installed"}],
        "workloads": {"unary-100B": {"note": "100 B each way"}},
        "runs": runs,
        "issue2": suite.issue2_rows(runs),
    }
    text = report.markdown(result, [])
    assert "## Unary echo, direct vs through the sidecar, concurrency 1 and 16" in text and "(issue 2)" not in text
    assert "| sidecar-out | 1 | 100 | 400 | 900 | 500 |" in text
    assert "## unary-100B c=1" in text
    assert "skipped target `nginx`: not installed" in text
    assert "| sidecar-out | 100 | 400 |" in text and "| 3 |" in text  # errors + drops


def test_least_disturbed_round_is_kept_and_every_round_reported() -> None:
    rounds = [
        {**_run("direct", 900, 5000, None, None), "measured_calls": 10, "load_average_1m": 9.0},
        {**_run("direct", 100, 200, None, None), "measured_calls": 10, "load_average_1m": 1.0},
        {**_run("direct", 50, 60, None, None), "measured_calls": 0, "load_average_1m": 1.0},  # nothing completed
    ]
    best = suite.least_disturbed(rounds)
    assert best["latency_us"]["p50"] == 100
    assert [r["latency_us"]["p50"] for r in best["rounds"]] == [900, 100, 50]
