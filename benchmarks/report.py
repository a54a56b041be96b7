"""Write a suite result as JSON, a markdown report and PNG plots (matplotlib, when installed)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from benchmarks.hist import Histogram

CURVE_POINTS = (0.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.99, 100.0)


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _ratio(run: dict[str, Any], key: str) -> str:
    vs = run.get("vs_nginx") or {}
    value = vs.get(key)
    return "-" if value is None else f"{value:.2f}x"


def machine_lines(result: dict[str, Any]) -> list[str]:
    m = result["machine"]
    libs = ", ".join(f"{k} {v}" for k, v in m["libraries"].items() if v)
    tools = ", ".join(v for v in m["tools"].values() if v) or "none"
    return [
        f"- **Machine**: {m['cores']} cores, {m['cpu_model']}, {m['memory_gb']} GB RAM, {m['os']}; "
        f"load average (1/5/15 min) at start {m['load_average_at_start']}, at end {m.get('load_average_at_end', '?')}",
        f"- **Software**: {m['python_implementation']} {m['python']}; {libs}; reference proxies: {tools}",
    ]


def issue2_table(result: dict[str, Any]) -> list[str]:
    lines = [
        "| target | concurrency | throughput (calls/s) | p50 (µs) | p99 (µs) | sidecar CPU (µs/call) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in result["issue2"]:
        lines.append(
            f"| {row['target']} | {row['concurrency']} | {_num(row['throughput'])} | {_num(row['p50_us'])} | "
            f"{_num(row['p99_us'])} | {_num(row['sidecar_cpu_us_per_call'])} |"
        )
    return lines


def _x(ratios: dict[str, Any] | None, key: str) -> str:
    value = (ratios or {}).get(key)
    return "-" if value is None else f"{value:.2f}x"


def transport_table(result: dict[str, Any]) -> list[str]:
    """The h2 transport beside grpc on the same path, case by case, with both against nginx."""
    lines = [
        "| case | path | CPU µs/call grpc | h2 | h2/grpc | grpc xnginx | h2 xnginx | +p50 µs grpc | h2 | h2/grpc "
        "| throughput grpc | h2 | h2/grpc |",
        "|---|---|" + "---:|" * 11,
    ]
    for row in result.get("transports", []):
        cpu, added, tput = row["cpu_us_per_call"], row["added_p50_us"], row["throughput"]
        h2, ng_grpc, ng_h2 = row["h2_vs_grpc"], row["grpc_vs_nginx"], row["h2_vs_nginx"]
        lines.append(
            f"| {row['case']} | {row['path']} | {_num(cpu[0])} | {_num(cpu[1])} | {_x(h2, 'cpu_us_per_call')} | "
            f"{_x(ng_grpc, 'cpu_us_per_call')} | {_x(ng_h2, 'cpu_us_per_call')} | {_num(added[0])} | "
            f"{_num(added[1])} | {_x(h2, 'added_p50')} | {_num(tput[0])} | {_num(tput[1])} | {_x(h2, 'throughput')} |"
        )
    return lines


def case_table(runs: list[dict[str, Any]]) -> list[str]:
    unit = runs[0]["unit"]
    lines = [
        f"| target | {unit} | p50 | p90 | p99 | p99.9 | max | +p50 vs direct | +p99 vs direct | "
        "proxy CPU µs/call | RSS MB | errors | p99 xnginx | +p50 xnginx | CPU xnginx | RSS xnginx |",
        "|---|" + "---:|" * 15,
    ]
    for run in runs:
        lat, added = run["latency_us"], run.get("added_latency_us") or {}
        errors = sum(run["errors"].values()) + run["dropped"]
        lines.append(
            f"| {run['target']} | {_num(run['throughput'])} | {_num(lat['p50'])} | {_num(lat['p90'])} | "
            f"{_num(lat['p99'])} | {_num(lat['p99.9'])} | {_num(lat['max'])} | {_num(added.get('p50'))} | "
            f"{_num(added.get('p99'))} | {_num(run['proxy_cpu_us_per_call'])} | {_num(run['proxy_rss_mb'], 1)} | "
            f"{errors} | {_ratio(run, 'p99')} | {_ratio(run, 'added_p50')} | {_ratio(run, 'cpu_us_per_call')} | "
            f"{_ratio(run, 'rss_mb')} |"
        )
    return lines


def grouped(result: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    cases: dict[str, list[dict[str, Any]]] = {}
    for run in result["runs"]:
        cases.setdefault(run["case"], []).append(run)
    return cases


def markdown(result: dict[str, Any], plots: list[str]) -> str:
    s = result["settings"]
    out = [
        f"# Apex Mesh latency suite — profile `{result['profile']}`",
        "",
        f"- **Command**: `{result['command']}`",
        f"- **When**: {result['started']} → {result.get('finished', '?')}",
        *machine_lines(result),
        f"- **Settings**: {s['duration_s']} s measured after {s['warmup_s']} s warm-up per run; "
        f"{s.get('rounds', 1)} interleaved round(s) per case and target, the least disturbed (lowest p50) kept; "
        f"{s['workers']} load-generator processes; latencies in µs, measured from each call's intended "
        "send time (open loop) or its actual send time (closed loop `c=N`).",
        "",
        "Targets (peak RSS: the proxy processes' high-water mark over the whole suite; in the tables below,",
        "RSS is what they held at the end of each run, and CPU is their user + system time per call or message):",
        "",
        "| target | path | peak RSS MB | x nginx |",
        "|---|---|---:|---:|",
        *[
            f"| `{t['name']}` | {t['description']} | {_num(t.get('peak_rss_mb'), 1)} | "
            f"{'-' if t.get('peak_rss_vs_nginx') is None else format(t['peak_rss_vs_nginx'], '.2f') + 'x'} |"
            for t in result["targets"]
        ],
        "",
    ]
    for skip in result["skipped"]:
        what = f"target `{skip['target']}`" if "target" in skip else f"workload `{skip['workload']}`"
        out.append(f"- skipped {what}: {skip['reason']}")
    out += ["", "## Unary echo, direct vs through the sidecar, concurrency 1 and 16", ""]
    out += issue2_table(result)
    if result.get("transports"):
        out += ["", "## Transports: h2 beside grpc on the same path (and both against nginx)", ""]
        out += transport_table(result)
    for case, runs in grouped(result).items():
        workload = result["workloads"][runs[0]["workload"]]
        out += ["", f"## {case}", "", f"{workload['note']}.", ""]
        out += case_table(runs)
        lags = [float(r["generator_send_lag_max_us"]) for r in runs if r.get("generator_send_lag_max_us") is not None]
        loads = [r["load_average_1m"] for r in runs if "load_average_1m" in r]
        notes = []
        if lags:
            notes.append(f"generator's worst send lag {max(lags) / 1000:,.1f} ms")
        if loads:
            notes.append(f"1-min load average {min(loads)}-{max(loads)}")
        for r in runs:
            if r.get("cache"):
                c = r["cache"]
                served = r.get("upstream_calls")
                upstream = f", {served:,} reached the upstream" if served is not None else ""
                notes.append(f"{r['target']}: {c['hits']:,} cache hits, {c['misses']:,} misses (CacheAdmin){upstream}")
        if notes:
            out += ["", f"<sub>{'; '.join(notes)}.</sub>"]
    if plots:
        out += ["", "## Plots", "", *[f"- [{Path(p).name}]({Path(p).name})" for p in plots]]
    return "\n".join(out) + "\n"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def _plots(result: dict[str, Any], folder: Path) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    files: list[str] = []
    cases = grouped(result)
    # 1. latency percentile curves, one figure per case (x: percentile on a "nines" scale)
    for case, runs in cases.items():
        fig, ax = plt.subplots(figsize=(7, 4))
        for run in runs:
            hist = Histogram.from_dict(run["histogram"])
            if hist.total == 0:
                continue
            points = hist.curve(CURVE_POINTS)
            xs = [1.0 / (1.0 - p / 100.0) if p < 100 else 1e5 for p, _ in points]
            ax.plot(xs, [v / 1000.0 for _, v in points], marker="o", markersize=3, label=run["target"])
        ax.set_xscale("log")
        ax.set_yscale("log")  # tails span orders of magnitude
        ticks = [1.0 / (1.0 - p / 100.0) for p in (0, 50, 90, 99, 99.9, 99.99)]
        ax.set_xticks(ticks, ["p0", "p50", "p90", "p99", "p99.9", "p99.99"])
        ax.set_ylabel("latency (ms)")
        ax.set_title(f"latency by percentile — {case}")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        path = folder / f"latency-{_slug(case)}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        files.append(str(path))
    # 2. bars per case and target: proxy CPU per call, and throughput
    for key, label, name in (
        ("proxy_cpu_us_per_call", "proxy CPU per call (µs)", "cpu-per-call.png"),
        ("throughput", "throughput (calls or msgs per s)", "throughput.png"),
    ):
        names = list(dict.fromkeys(r["target"] for r in result["runs"] if r[key] is not None))  # suite order
        if not names:
            continue
        fig, ax = plt.subplots(figsize=(max(8, len(cases) * 1.1), 4.5))
        width = 0.8 / len(names)
        for i, target in enumerate(names):
            values = [next((r[key] or 0 for r in runs if r["target"] == target), 0) for runs in cases.values()]
            ax.bar([x + i * width for x in range(len(cases))], values, width, label=target)
        ax.set_xticks(
            [x + 0.4 - width / 2 for x in range(len(cases))], list(cases), rotation=30, ha="right", fontsize=8
        )
        ax.set_ylabel(label)
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = folder / name
        fig.savefig(path, dpi=100)
        plt.close(fig)
        files.append(str(path))
    return files


def write(result: dict[str, Any], out: Path, *, plots: bool = True) -> dict[str, Any]:
    """Write report.json, report.md and the plots into a new folder under `out`; return their paths."""
    stamp = result["started"].replace(":", "").replace("+0000", "Z").replace("+00:00", "Z")
    folder = Path(out) / f"{stamp}-{result['profile']}"
    folder.mkdir(parents=True, exist_ok=True)
    images = _plots(result, folder) if plots else []
    files = {"folder": str(folder), "json": str(folder / "report.json"), "markdown": str(folder / "report.md")}
    (folder / "report.md").write_text(markdown(result, images))
    (folder / "report.json").write_text(json.dumps({**result, "files": {**files, "plots": images}}, indent=1))
    return {**files, "plots": images}
