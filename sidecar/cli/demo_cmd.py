"""`apex demo`: run the live local mesh (Ctrl-C to stop), or unattended with --duration."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(commands: Any) -> None:
    p: argparse.ArgumentParser = commands.add_parser(
        "demo",
        help="run a live local mesh with a dashboard",
        description="Start Redis (unless --redis), a control plane, a small shop of services with their "
        "sidecars, the forecaster and the tuner, drive a daily load curve compressed into --period seconds "
        "with an incident (catalog-2 flaky and slow from --incident-at for --incident-for seconds), show a "
        "live dashboard (the forecast, anomalies, preventive actions, tuner decisions), and write a report "
        "(REPORT.md, plots, summary.json) to --report-dir. Ctrl-C stops it; calls in flight then are "
        "counted as cancelled. The mesh runs secured: the control plane authenticates sidecars, engines and "
        "the demo by tokens (random, in 0600 files) and issues certificates from its CA; the sidecars talk "
        "mTLS, and the dashboard shows who called whom. --insecure runs the old unauthenticated mesh.",
    )
    p.add_argument("--duration", type=float, default=None, help="stop after SECONDS (default: until Ctrl-C)")
    p.add_argument("--period", type=float, default=120.0, help="seconds one compressed day lasts (default 120)")
    p.add_argument("--peak", type=float, default=40.0, help="peak offered load in calls/s (default 40)")
    p.add_argument("--incident-at", type=float, default=290.0, metavar="SECONDS",
                   help="seconds into the load when catalog-2 turns flaky and slow (default 290: day 3's midday "
                   "peak, once the anomaly detector has calibrated its tails on 192 points)")  # fmt: skip
    p.add_argument("--incident-for", type=float, default=30.0, metavar="SECONDS",
                   help="how long the incident lasts (default 30; 0: no incident)")  # fmt: skip
    p.add_argument("--report-dir", default="apex-demo-report", help="where the report goes")
    p.add_argument("--redis", default=None, help="use this Redis instead of starting one (or $APEX_REDIS_URL)")
    p.add_argument("--insecure", action="store_true",
                   help="run the mesh WITHOUT security (no mTLS, a control plane that lets anyone in; for comparison "
                   "and debugging only; says so loudly)")  # fmt: skip
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from sidecar.demo.run import run as run_demo
    from sidecar.demo.timeline import Timeline

    if args.peak <= 0 or (args.duration is not None and args.duration <= 0):
        print("apex demo: --peak and --duration must be > 0", file=sys.stderr)
        return 2
    try:
        timeline = Timeline(args.period, args.incident_at, args.incident_for)
    except ValueError as exc:
        print(f"apex demo: {exc}", file=sys.stderr)
        return 2
    return run_demo(args.duration, timeline, args.peak, Path(args.report_dir), args.redis, insecure=args.insecure)
