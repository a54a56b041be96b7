"""Write the demo's short report: a markdown summary and, when matplotlib is present, plots."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sidecar.demo.load import LoadGenerator


def _plots(report_dir: Path, history: Any, load: LoadGenerator) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    top.plot(history["t"], history["offered"], label="offered calls/s", linestyle="--")
    services = sorted({r.service for frame in history["rows"] for r in frame})
    for service in services:
        series = [next((r.calls_per_s for r in frame if r.service == service), 0.0) for frame in history["rows"]]
        top.plot(history["t"], series, label=f"{service} calls/s")
    top.set_ylabel("calls/s")
    top.legend(loc="upper left", fontsize=8)
    secs = sorted(load.seconds)
    p99 = [sorted(load.seconds[s].latencies)[int(len(load.seconds[s].latencies) * 0.99)] * 1e3
           if load.seconds[s].latencies else float("nan") for s in secs]  # fmt: skip
    errs = [load.seconds[s].errors / max(1, load.seconds[s].sent) * 100 for s in secs]
    bottom.plot(secs, p99, label="frontend p99 ms")
    bottom.plot(secs, errs, label="frontend errors %")
    bottom.set_xlabel("seconds")
    bottom.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    name = "demo.png"
    fig.savefig(report_dir / name, dpi=100)
    plt.close(fig)
    return [name]


def write(report_dir: Path, history: Any, load: LoadGenerator, windows: int | None, actions: list[str]) -> Path:
    report_dir.mkdir(parents=True, exist_ok=True)
    sent, ok, errors = load.totals()
    all_lat = sorted(x for s in load.seconds.values() for x in s.latencies)

    def pct(q: float) -> str:
        return f"{all_lat[min(len(all_lat) - 1, int(len(all_lat) * q))] * 1e3:.1f} ms" if all_lat else "-"

    plots = _plots(report_dir, history, load)
    lines = [
        f"# Apex Mesh demo report ({time.strftime('%Y-%m-%d %H:%M:%S')})",
        "",
        f"- calls sent: {sent}, succeeded: {ok}, failed: {errors} ({errors / max(1, sent) * 100:.2f}%), "
        f"cancelled at stop: {load.cancelled}",
        f"- frontend latency: p50 {pct(0.5)}, p99 {pct(0.99)}, max {pct(1.0)}",
        f"- calls not sent because 256 were in flight: {load.dropped}",
        f"- telemetry windows in Redis: {windows}",
        f"- engine actions applied: {len(actions)}",
        *(f"  - {a}" for a in actions),
        "",
        *(f"![{p}]({p})" for p in plots),
    ]
    path = report_dir / "REPORT.md"
    path.write_text("\n".join(lines) + "\n")
    return path
