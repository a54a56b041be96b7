"""`apex demo`: start the mesh (mesh.py), let the live view (live.py) drive the load and draw the dashboard,
stop cleanly, and write the report and summary."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from sidecar.demo import live, panels, peers
from sidecar.demo.mesh import Demo
from sidecar.demo.timeline import Timeline
from sidecar.demo.topology import MAIN_SERVICE
from sidecar.security.status import as_dict
from sidecar.support.redis_server import external_url

INSECURE_BANNER = (
    "INSECURE DEMO (--insecure): no mTLS between the sidecars, no identities, and a control plane that lets "
    "anyone register as any service and change any policy (audit authors are unverified claims). For "
    "comparison and debugging only; `apex demo` without --insecure runs the mesh secured."
)


def run(
    duration: float | None,
    timeline: Timeline,
    peak: float,
    report_dir: Path,
    redis_url: str | None,
    insecure: bool = False,
) -> int:
    import uvloop

    from sidecar.demo import report

    report_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="apex-demo-") as tmp:
        demo = Demo(Path(tmp), timeline, peak, redis_url=redis_url or external_url(), insecure=insecure)
        show: dict[str, str] = {}
        try:
            if insecure:
                print(f"\n*** {INSECURE_BANNER} ***\n", flush=True)
            print("starting the mesh: redis, control plane, services with sidecars, forecaster, tuner ...", flush=True)
            if not insecure:
                print("secured: tokens in 0600 files, control plane with --auth and its CA, mTLS between sidecars",
                      flush=True)  # fmt: skip
            demo.start()
            print(f"frontend reachable through its sidecar at {demo.frontend_address}", flush=True)
            load, windows = uvloop.run(live.drive(demo, duration, sys.stdout.isatty()))
            show = demo.forecast_show(report_dir)
        finally:
            demo.stop()
        stray = [p.name for p in demo.sup.procs if p.popen.poll() is None]
        engines = demo.engines.log if demo.engines is not None else panels.EngineLog()
        elapsed = demo.history["t"][-1] if demo.history["t"] else 0.0
        security_lines = (peers.peers_panel(demo.peers, time.time()) if not insecure
                          else [peers.INSECURE_NOTE, INSECURE_BANNER])  # fmt: skip
        path = report.write(report_dir, demo.history, load, windows, demo.actions,
                            report.Engines(engines, show, timeline.milestones(elapsed), demo.incidents,
                                           demo.tuner_note, report_dir), security_lines)  # fmt: skip
    sent, ok, errors = load.totals()
    counts = {c: engines.counts.get(c, 0) for c in (panels.PREDICTION, panels.ANOMALY, panels.ACTION, panels.TUNER)}
    summary = {"sent": sent, "ok": ok, "errors": errors, "error_codes": dict(load.codes), "cancelled": load.cancelled,
               "telemetry_windows": windows,
               "engine_actions": demo.actions, "engine_events": counts, "incidents": demo.incidents,
               "forecast_shown": "forecast (model" in show.get(MAIN_SERVICE, ""), "stray_processes": stray,
               "security": "insecure" if insecure else "mtls",
               "audit_authors": {engine: sorted(names) for engine, names in sorted(demo.authors.items())},
               "peers": {name: None if st is None else as_dict(st) for name, st in demo.peers}}  # fmt: skip
    (report_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"\ncalls sent {sent}, ok {ok}, failed {errors}, cancelled at stop {load.cancelled}; "
          f"telemetry windows {windows}; engine actions {len(demo.actions)}; engine events {counts}; "
          f"report: {path}")  # fmt: skip
    if insecure:
        print(f"*** {INSECURE_BANNER} ***")
    else:
        print(peers.summary_line(demo.peers, demo.authors))
    for action in demo.actions[-5:]:
        print(f"  {action}")
    if ok == 0:
        print("demo failed: no call succeeded", file=sys.stderr)
        return 1
    if not windows:
        print("demo failed: no telemetry window arrived in Redis", file=sys.stderr)
        return 1
    return 0
