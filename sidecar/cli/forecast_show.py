"""`apex forecast show --service S`: what the forecasting engine stored for a service — profile,
forecast with intervals, predictions, recent anomalies, actions, consumer lag (`--plot FILE`: a PNG)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from sidecar.cli.term import echo, safe


def register(sub: Any) -> None:
    s: argparse.ArgumentParser = sub.add_parser(
        "show",
        help="a service's profile, forecast, predictions, anomalies, actions and the engine's lag",
        description="Read what the running forecasting engine (`apex forecaster`) stored in Redis for SERVICE.",
    )
    s.add_argument("--service", required=True, help="the service")
    s.add_argument("--redis", default=os.environ.get("APEX_REDIS_URL"), help="Redis URL (default $APEX_REDIS_URL)")
    s.add_argument("--group", default="forecaster", help="the engine's consumer group (default forecaster)")
    s.add_argument("--points", type=int, default=10, help="forecast points printed (default 10)")
    s.add_argument("--json", action="store_true", help="print everything as one JSON object")
    s.add_argument("--plot", metavar="FILE", help="write a PNG of the history, forecast, interval and anomalies")
    s.set_defaults(run=run)


def load(redis_url: str, service: str, group: str) -> dict[str, Any]:
    """The engine's stored state for `service` (apex.mesh.contract.forecast keys), decoded."""
    import redis
    from apex.mesh.contract import forecast as keys

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        raw: Any = client.hgetall(keys.state_key(service))
        actions: Any = client.lrange(keys.state_key(service) + ":" + keys.ACTIONS, 0, keys.RECENT - 1)
        lag: Any = client.hget(keys.lag_key(group), keys.LAG)
    finally:
        client.close()
    state = {k.decode(): json.loads(v) for k, v in raw.items()}
    state[keys.ACTIONS] = [json.loads(a) for a in actions]
    state[keys.LAG] = json.loads(lag) if lag else None
    return state


def _ago(t: float, now: float) -> str:
    return f"{max(0.0, now - t):.0f}s ago"


def render(service: str, state: dict[str, Any], points: int, now: float) -> str:
    lines = [f"service {service}"]
    updated = state.get("updated")
    lines.append(f"  updated {_ago(updated, now)}" if updated else "  (the engine has stored nothing for it yet)")
    prof = state.get("profile") or {}
    if prof:
        peaks = ", ".join(f"{h:02d}:00" for h in prof.get("peak_hours", []))
        lines.append(f"profile ({prof.get('points', 0)} points at {prof.get('resolution_s')}s): peak hours UTC {peaks}")
        hourly = [x for x in prof.get("hourly", []) if x is not None]
        if hourly:
            lines.append(f"  hourly mean rate: min {min(hourly):.1f}  max {max(hourly):.1f} calls/s")
    fc = state.get("forecast") or {}
    if fc.get("mean"):
        res = fc["resolution_s"]
        lo, hi = (fc.get("lower") or {}), (fc.get("upper") or {})
        level = "0.8" if "0.8" in lo else (sorted(lo)[0] if lo else None)
        last = (fc.get("rate") or [None])[-1]
        lines.append(f"forecast (model {fc.get('model')}, periods {fc.get('periods')}, every {res}s; "
                     f"now {last if last is None else round(last, 2)} calls/s):")  # fmt: skip
        for i, m in enumerate(fc["mean"][:points]):
            band = f"  [{lo[level][i]:.1f}, {hi[level][i]:.1f}] ({float(level) * 100:.0f}%)" if level else ""
            lines.append(f"  +{(i + 1) * res:>6}s  {m:10.2f}{band}")
    elif fc:
        lines.append(f"forecast: not enough history yet ({len(fc.get('rate', []))} points)")
    lines.append("predictions:" if state.get("predictions") else "predictions: none")
    for p in state.get("predictions") or []:
        lines.append(f"  [{p['priority']}] {p['kind']} lead {p['lead_s']:.0f}s: {p['message']} ({p['correlation_id']})")
    anomalies = state.get("anomalies") or []
    lines.append(f"recent anomalies: {len(anomalies)}")
    for a in anomalies[-5:]:
        lines.append(f"  {_ago(a['time'], now)} {a['key']} {a['metric']}={a['value']:.4g} score {a['score']:.2f}")
    acts = state.get("actions") or []
    lines.append(f"actions (newest first): {len(acts)}")
    for a in acts[:10]:
        lines.append(f"  {_ago(a['time'], now)} {a['status']:<8} {a['path']} = {a['value']}: {a['reason']}")
    lag = state.get("lag")
    if lag:
        ages = [s.get("newest_age_s") for s in lag.get("streams", {}).values() if s.get("newest_age_s") is not None]
        newest = f", newest entry {min(ages):.1f}s old" if ages else ""
        lines.append(
            f"consumer lag ({lag.get('consumer')}, {_ago(lag['time'], now)}): {lag.get('pending', 0)} pending, "
            f"{lag.get('held', 0)} held until the next snapshot, {lag.get('duplicates', 0)} duplicates{newest}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if not args.redis:
        print("apex forecast show: --redis (or $APEX_REDIS_URL) is required", file=sys.stderr)
        return 2
    try:
        state = load(args.redis, args.service, args.group)
    except OSError as exc:
        print(f"apex forecast show: cannot read {safe(args.redis)}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # redis errors (connection refused, auth) are not OSError
        print(f"apex forecast show: cannot read {safe(args.redis)}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        echo(json.dumps(state, indent=2))
    else:
        echo(render(args.service, state, args.points, time.time()))
    if args.plot:
        from sidecar.cli.forecast_plot import PlotError, plot

        try:
            drawn = plot(args.plot, args.service, state)
        except PlotError as exc:
            print(f"apex forecast show --plot: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"apex forecast show --plot: cannot write {safe(args.plot)}: {exc}", file=sys.stderr)
            return 1
        echo(safe(f"wrote {args.plot} ({drawn.history} points of history, {drawn.forecast} forecast, "
                  f"{drawn.anomalies} anomalies marked)"))  # fmt: skip
    return 0
