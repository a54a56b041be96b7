"""Render the demo's live dashboard from plain numbers (pure: state in, text out)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ServiceRow:
    service: str
    calls_per_s: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    error_rate: float = 0.0
    cache_hit_rate: float | None = None
    breaker: str = "-"
    policy_version: str = "-"


@dataclass
class Frame:
    elapsed: float
    duration: float
    offered_rate: float
    rows: list[ServiceRow]
    telemetry_windows: int | None = None
    engine_actions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    phase: str = ""  # where the timeline is: "day 2, morning ramp, INCIDENT: ..."
    panels: list[str] = field(default_factory=list)  # peers (demo.peers), engines (demo.panels), pre-rendered


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def render(frame: Frame, width: int = 100) -> str:
    head = (
        f"Apex Mesh demo   t={frame.elapsed:5.0f}s / {frame.duration:.0f}s   "
        f"offered {frame.offered_rate:5.1f} calls/s   "
        f"telemetry windows: {'-' if frame.telemetry_windows is None else frame.telemetry_windows}"
    )
    cols = ("SERVICE", "CALLS/S", "P50 MS", "P99 MS", "ERRORS", "CACHE HIT", "BREAKER / EJECTIONS", "POLICY")
    lines = [
        head,
        *([f"timeline: {frame.phase}"] if frame.phase else []),
        "=" * min(width, len(head) + 10),
        "  ".join(f"{c:<10}" for c in cols[:6]) + f"  {cols[6]:<22}  {cols[7]}",
    ]
    for r in frame.rows:
        cells = (r.service, f"{r.calls_per_s:.1f}", _ms(r.p50_ms), _ms(r.p99_ms), _pct(r.error_rate),
                 _pct(r.cache_hit_rate))  # fmt: skip
        lines.append("  ".join(f"{c:<10}" for c in cells) + f"  {r.breaker:<22}  {r.policy_version}")
    lines.append("")
    if frame.panels:
        lines.extend(frame.panels)
        lines.append("")
    lines.append(f"Policy changes by the engines (control-plane audit): {len(frame.engine_actions)}")
    lines.extend(f"  {a}" for a in frame.engine_actions[-3:]) if frame.engine_actions else lines.append("  (none yet)")
    lines.extend(f"note: {n}" for n in frame.notes)
    lines.append("Ctrl-C stops the mesh and writes the report.")
    return "\n".join(lines)
