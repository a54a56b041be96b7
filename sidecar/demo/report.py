"""Write the demo's short report: a markdown summary and, when matplotlib is present, plots."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sidecar.demo import panels
from sidecar.demo.load import LoadGenerator


@dataclass
class Engines:
    """What the engines did during the run, for the report."""

    log: panels.EngineLog
    show: dict[str, str] = field(default_factory=dict)  # service -> `apex forecast show` output at the end
    milestones: list[tuple[float, str]] = field(default_factory=list)  # the timeline's phases and incident
    incidents: list[tuple[float, str]] = field(default_factory=list)  # when the demo started / ended it
    tuner_note: str = ""
    report_dir: Path = Path()


SECTIONS = (
    (panels.PREDICTION, "Predictions"),
    (panels.ANOMALY, "Anomalies raised"),
    (panels.ACTION, "Preventive actions (with their reasons)"),
    (panels.TUNER, "Tuner decisions"),
)


def _engine_sections(engines: Engines) -> list[str]:
    lines = ["## Timeline", "", "| t (s) | what |", "| ---: | --- |"]
    planned = [m for m in engines.milestones if not (engines.incidents and m[1].startswith("incident"))]
    for t, text in sorted([*planned, *engines.incidents], key=lambda m: m[0]):  # the incident as it ran
        lines.append(f"| {t:.0f} | {text} |")
    lines.append("")
    for service, text in engines.show.items():
        lines += [f"## The forecaster's view at the end (`apex forecast show --service {service}`)", "", "```"]
        lines += [text.rstrip() or "(nothing: the forecaster stored no state)", "```", ""]
        if (engines.report_dir / f"forecast-{service}.png").exists():
            lines += [f"![forecast-{service}.png](forecast-{service}.png)", ""]
    for category, title in SECTIONS:
        items = engines.log.latest(category, engines.log.keep)
        lines.append(f"## {title}: {engines.log.counts.get(category, 0)}")
        lines.append("")
        lines.extend(f"- {item.line()}" for item in items)
        if not items:
            note = engines.tuner_note if category == panels.TUNER else ""
            lines.append(f"- none: {note}" if note else "- none")
        lines.append("")
    return lines


def _plots(report_dir: Path, history: Any, load: LoadGenerator, incidents: list[tuple[float, str]]) -> list[str]:
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
    secs = sorted(load.seconds)
    p99 = [sorted(load.seconds[s].latencies)[int(len(load.seconds[s].latencies) * 0.99)] * 1e3
           if load.seconds[s].latencies else float("nan") for s in secs]  # fmt: skip
    errs = [load.seconds[s].errors / max(1, load.seconds[s].sent) * 100 for s in secs]
    bottom.plot(secs, p99, label="frontend p99 ms")
    bottom.plot(secs, errs, label="frontend errors %")
    bottom.set_xlabel("seconds")
    starts = [t for t, text in incidents if "started" in text]
    ends = [t for t, text in incidents if "ended" in text] + [history["t"][-1] if history["t"] else 0.0]
    for start in starts:
        end = min((e for e in ends if e >= start), default=start)
        label = "incident" if start == starts[0] else None
        top.axvspan(start, end, color="red", alpha=0.1, label=label)
        bottom.axvspan(start, end, color="red", alpha=0.1)
    top.legend(loc="upper left", fontsize=8)
    bottom.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    name = "demo.png"
    fig.savefig(report_dir / name, dpi=100)
    plt.close(fig)
    return [name]


def write(report_dir: Path, history: Any, load: LoadGenerator, windows: int | None, actions: list[str],
          engines: Engines | None = None, security: list[str] | None = None) -> Path:  # fmt: skip
    """`security`: the peers panel at the end (each sidecar's identity, certificate and callers)."""
    report_dir.mkdir(parents=True, exist_ok=True)
    sent, ok, errors = load.totals()
    all_lat = sorted(x for s in load.seconds.values() for x in s.latencies)

    def pct(q: float) -> str:
        return f"{all_lat[min(len(all_lat) - 1, int(len(all_lat) * q))] * 1e3:.1f} ms" if all_lat else "-"

    plots = _plots(report_dir, history, load, engines.incidents if engines is not None else [])
    lines = [
        f"# Apex Mesh demo report ({time.strftime('%Y-%m-%d %H:%M:%S')})",
        "",
        f"- calls sent: {sent}, succeeded: {ok}, failed: {errors} ({errors / max(1, sent) * 100:.2f}%), "
        f"cancelled at stop: {load.cancelled}",
        f"- failed calls by status: {', '.join(f'{c} {n}' for c, n in load.codes.most_common()) or 'none'}",
        f"- frontend latency: p50 {pct(0.5)}, p99 {pct(0.99)}, max {pct(1.0)}",
        f"- calls not sent because 256 were in flight: {load.dropped}",
        f"- telemetry windows in Redis: {windows}",
        f"- engine actions applied (policy changes in the control-plane audit): {len(actions)}",
        *(f"  - {a}" for a in actions),
        "",
        *(f"![{p}]({p})" for p in plots),
        "",
    ]
    if security:
        lines += ["## Peers: identities, certificates and who called whom", "", "```", *security, "```", ""]
    if engines is not None:
        lines += _engine_sections(engines)
    path = report_dir / "REPORT.md"
    path.write_text("\n".join(lines) + "\n")
    return path
