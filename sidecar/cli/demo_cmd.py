"""`apex demo`: run the live local mesh (Ctrl-C to stop), or unattended with --duration."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(commands: Any) -> None:
    p: argparse.ArgumentParser = commands.add_parser(
        "demo",
        help="run a live local mesh with a dashboard",
        description="Start Redis (unless --redis), a control plane, a small shop of services with their "
        "sidecars and the forecaster, drive a daily load curve compressed into --period seconds, show "
        "a live dashboard, and write a report (plots, summary.json) to --report-dir. Ctrl-C stops it; "
        "calls in flight then are counted as cancelled.",
    )
    p.add_argument("--duration", type=float, default=None, help="stop after SECONDS (default: until Ctrl-C)")
    p.add_argument("--period", type=float, default=120.0, help="seconds one compressed day lasts (default 120)")
    p.add_argument("--peak", type=float, default=40.0, help="peak offered load in calls/s (default 40)")
    p.add_argument("--report-dir", default="apex-demo-report", help="where the report goes")
    p.add_argument("--redis", default=None, help="use this Redis instead of starting one (or $APEX_REDIS_URL)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from sidecar.demo.run import run as run_demo

    return run_demo(args.duration, args.period, args.peak, Path(args.report_dir), args.redis)
