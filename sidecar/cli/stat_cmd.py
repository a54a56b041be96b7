"""`apex stat`, `apex top`, `apex health`: golden metrics and instance health from the telemetry on Redis.

The reading (XRANGE by time on `apex:telemetry:{service}`, the control plane's ListInstances) is
here; the arithmetic (windows -> rows) is sidecar.telemetry.golden, without I/O. Every name
printed comes from remote data and goes through sidecar.cli.term.safe.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from apex.mesh.contract.streams import TELEMETRY_PATTERN, telemetry_key
from apex.mesh.v1 import telemetry_pb2

from sidecar.cli.redis_guard import guard
from sidecar.cli.term import echo, safe
from sidecar.config.yaml_proto import parse_duration
from sidecar.policy.errors import ConfigError
from sidecar.telemetry import golden
from sidecar.telemetry.reader import Dedupe, split

DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
PAGE = 1000  # XRANGE page size: memory stays bounded per page, not per stream
CLEAR = "\x1b[H\x1b[2J"


def _redis_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--redis", metavar="URL", default=os.environ.get("APEX_REDIS_URL") or DEFAULT_REDIS,
        help=f"Redis URL (default $APEX_REDIS_URL or {DEFAULT_REDIS})",
    )  # fmt: skip


def _duration(text: str) -> float:
    try:
        seconds = parse_duration(text, "duration")
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text!r}")
    return seconds


def register(commands: Any) -> None:
    stat = commands.add_parser(
        "stat",
        help="golden metrics (calls/s, success, p50/p95/p99, errors, retries, rejections, cache) over a time range",
        description="Merge every instance's telemetry windows of a time range from Redis into one row per "
        "service, route, gRPC method, cluster or endpoint (per --window bucket). Method rows have calls, "
        "codes and latency; retries, rejections and cache use are counted per route only.",
    )
    stat.add_argument("--service", "-s", action="append", metavar="S", help="service (repeatable; default: all)")
    stat.add_argument("--by", choices=golden.BY_CHOICES, default="service", help="row level (default service)")
    stat.add_argument("--since", type=_duration, default=300.0, metavar="DUR", help="range up to now (default 5m)")
    stat.add_argument("--window", type=_duration, metavar="DUR", help="one row per key per bucket of DUR")
    stat.add_argument("--json", action="store_true", help="one JSON document; numbers as numbers")
    _redis_arg(stat)
    stat.set_defaults(run=run_stat)

    top = commands.add_parser(
        "top", help="live golden metrics of a service, refreshed in the terminal",
        description="`apex stat` for the last --since, redrawn every --interval (plain ANSI). Ctrl-C stops.",
    )  # fmt: skip
    top.add_argument("--service", "-s", required=True, action="append", metavar="S", help="service (repeatable)")
    top.add_argument("--by", choices=golden.BY_CHOICES, default="route", help="row level (default route)")
    top.add_argument("--since", type=_duration, default=60.0, metavar="DUR", help="sliding range (default 1m)")
    top.add_argument("--interval", type=_duration, default=2.0, metavar="DUR", help="refresh (default 2s)")
    top.add_argument("--once", action="store_true", help="print one frame and exit (tests, pipes)")
    _redis_arg(top)
    top.set_defaults(run=run_top, window=None, json=False)

    health = commands.add_parser(
        "health", help="every instance: seconds since its heartbeat, calls/errors in the last hour, policy, NACK",
        description="Instances from the control plane's registry (--control-plane) joined with their "
        "telemetry; without --control-plane, from the telemetry streams alone.",
    )  # fmt: skip
    health.add_argument("--service", "-s", action="append", metavar="S", help="service (repeatable; default: all)")
    health.add_argument("--control-plane", metavar="HOST:PORT", help="also ask this control plane's registry")
    health.add_argument("--since", type=_duration, default=3600.0, metavar="DUR", help="range (default 1h)")
    health.add_argument("--json", action="store_true", help="one JSON document; numbers as numbers")
    _redis_arg(health)
    health.set_defaults(run=run_health)


# --- reading ----------------------------------------------------------------------------------


async def _services(client: Any, wanted: Sequence[str] | None) -> list[str]:
    if wanted:
        return list(dict.fromkeys(wanted))
    found: set[str] = set()
    async for raw in client.scan_iter(match=TELEMETRY_PATTERN, count=500):
        key = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        inner = key.removeprefix("apex:telemetry:")
        if inner.startswith("{") and inner.endswith("}"):
            found.add(inner[1:-1])
    return sorted(found)


async def read_since(
    client: Any, services: Sequence[str], since: float
) -> tuple[list[telemetry_pb2.TelemetryWindow], int]:
    """Windows XADDed at or after `since` (unix seconds) on each service's stream, deduplicated, and
    the count of bad entries skipped. A window is published after it starts, so none is missed."""
    dedupe = Dedupe()
    out: list[telemetry_pb2.TelemetryWindow] = []
    bad = 0
    for service in services:
        start = str(int(since * 1000))
        while True:
            page = await client.xrange(telemetry_key(service), min=start, max="+", count=PAGE)
            good, skipped = split(page, dedupe)
            out.extend(w for _, w in good)
            bad += len(skipped)
            if len(page) < PAGE:
                break
            last = page[-1][0]
            start = "(" + (last.decode() if isinstance(last, bytes) else str(last))
    return out, bad


async def _with_redis(url: str, work: Any) -> Any:
    import redis.asyncio as aioredis

    client: Any = aioredis.from_url(url, socket_connect_timeout=5.0)
    try:
        return await work(client)
    finally:
        await client.aclose()


# --- stat / top -------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}ms"


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def table(rows: Sequence[golden.Row], by: golden.By, buckets: bool = False) -> str:
    """Aligned text, one line per row (with the bucket's local start time when `buckets`); cells escaped."""
    keys = (["START"] if buckets else []) + [c.upper() for c in golden.KEY_COLUMNS[by]]
    head = [*keys, "CALLS", "RPS", "SUCCESS", "P50", "P95", "P99", "RETRIES", "REJECTED", "CACHE_HIT", "ERRORS"]
    body: list[list[str]] = []
    for r in rows:
        q = r.quantiles_ms()
        errors = ",".join(f"{code}:{n}" for code, n in r.errors_by_code.items()) or "-"
        start = [time.strftime("%H:%M:%S", time.localtime(r.start))] if buckets else []
        body.append([
            *start, *(safe(k) for k in r.key), str(r.calls), f"{r.rate:.2f}", _pct(r.success_rate),
            _ms(q["p50"]), _ms(q["p95"]), _ms(q["p99"]), _count(r.retries), _count(r.rejections),
            _pct(r.cache_hit_ratio), safe(errors),
        ])  # fmt: skip
    widths = [max(len(h), *(len(line[i]) for line in body)) if body else len(h) for i, h in enumerate(head)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in [head, *body]
    )


def exemplar_lines(rows: Sequence[golden.Row]) -> list[str]:
    """Per row with sampled calls: its slowest call's and its failed calls' trace ids; cells escaped."""
    lines: list[str] = []
    for r in rows:
        key = safe("/".join(r.key))
        if r.slowest is not None:
            s = r.slowest
            lines.append(f"  {key}  slowest {s.seconds * 1e3:.1f}ms {safe(s.method)}  trace {safe(s.trace_id)}")
        for e in r.failed:
            lines.append(f"  {key}  failed {safe(e.code)} {safe(e.method)}  trace {safe(e.trace_id)}")
    return lines


def _frame(args: argparse.Namespace, windows: list[telemetry_pb2.TelemetryWindow], now: float) -> list[golden.Row]:
    return golden.rows(windows, args.by, now - args.since, now, args.window)


def run_stat(args: argparse.Namespace) -> int:
    async def work(client: Any) -> int:
        now = time.time()
        services = await _services(client, args.service)
        windows, bad = await read_since(client, services, now - args.since)
        rows = _frame(args, windows, now)
        if bad:
            echo(f"apex stat: skipped {bad} bad entries", file=sys.stderr)
        if args.json:
            print(json.dumps({"since": now - args.since, "until": now, "by": args.by,
                              "rows": [r.as_dict(args.by) for r in rows]}, indent=2))  # fmt: skip
        elif not rows:
            echo(f"no telemetry in the last {args.since:g}s" + (f" for {', '.join(services)}" if services else ""))
        else:
            echo(table(rows, args.by, buckets=args.window is not None))
            if lines := exemplar_lines(rows):
                echo("\n".join(["", "exemplars (trace ids of sampled calls):", *lines]))
        return 0

    return guard("stat", args.redis, lambda: asyncio.run(_with_redis(args.redis, work)))


def run_top(args: argparse.Namespace) -> int:
    redraw = sys.stdout.isatty() and not args.once

    async def work(client: Any) -> int:
        while True:
            now = time.time()
            windows, _ = await read_since(client, args.service, now - args.since)
            rows = _frame(args, windows, now)
            stamp = time.strftime("%H:%M:%S", time.localtime(now))
            text = f"apex top  {', '.join(args.service)}  last {args.since:g}s  at {stamp}\n\n"
            text += table(rows, args.by) if rows else "no telemetry in range"
            if redraw:
                sys.stdout.write(CLEAR)
            echo(text)
            sys.stdout.flush()
            if args.once:
                return 0
            await asyncio.sleep(args.interval)

    return guard("top", args.redis, lambda: asyncio.run(_with_redis(args.redis, work)))


# --- health -----------------------------------------------------------------------------------


async def _registry(address: str, services: Sequence[str] | None) -> list[Any]:
    from engines.control.admin_client import PolicyAdminClient

    async with PolicyAdminClient(address, author="apex health", timeout=5.0) as admin:
        if not services:
            return list(await admin.instances())
        found: list[Any] = []
        for service in services:
            found.extend(await admin.instances(service))
        return found


def health_rows(seen: Sequence[golden.InstanceHealth], registered: Sequence[Any], now: float) -> list[dict[str, Any]]:
    """Telemetry health joined with the registry (InstanceStatus): registry fields win where present."""
    by_key = {(h.service, h.instance): h.as_dict(now) for h in seen}
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for status in registered:
        key = (status.service, status.instance)
        row = by_key.pop(key, None) or {
            "service": status.service, "instance": status.instance, "zone": status.zone,
            "seconds_since_heartbeat": None, "calls": 0, "errors": 0, "policy_version": "", "windows": 0,
        }  # fmt: skip
        if status.HasField("last_heartbeat"):
            beat = status.last_heartbeat.seconds + status.last_heartbeat.nanos / 1e9
            row["seconds_since_heartbeat"] = round(max(0.0, now - beat), 3)
        row.update(
            healthy=status.healthy, connected=status.connected,
            policy_version=status.applied_version or row["policy_version"],
            last_nack=({"version": status.last_nack_version, "field": status.last_nack_field,
                        "reason": status.last_nack_reason} if status.last_nack_version else None),
        )  # fmt: skip
        out[key] = row
    for key, row in by_key.items():
        out[key] = {**row, "healthy": None, "connected": None, "last_nack": None}
    return [out[k] for k in sorted(out)]


def health_table(rows: Sequence[dict[str, Any]]) -> str:
    head = ["SERVICE", "INSTANCE", "HEARTBEAT", "CALLS", "ERRORS", "POLICY", "HEALTHY", "LAST_NACK"]
    body: list[list[str]] = []
    for r in rows:
        beat = r["seconds_since_heartbeat"]
        nack = r["last_nack"]
        nack_text = f"v{nack['version']} {nack['field']}: {nack['reason']}" if nack else "-"
        healthy = {True: "yes", False: "NO", None: "?"}[r["healthy"]]
        body.append([
            safe(r["service"]), safe(r["instance"]), "-" if beat is None else f"{beat:.1f}s ago",
            str(r["calls"]), str(r["errors"]), safe(r["policy_version"] or "-"), healthy, safe(nack_text),
        ])  # fmt: skip
    widths = [max(len(h), *(len(line[i]) for line in body)) if body else len(h) for i, h in enumerate(head)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in [head, *body]
    )


def run_health(args: argparse.Namespace) -> int:
    async def work(client: Any) -> int:
        registered = await _registry(args.control_plane, args.service) if args.control_plane else []
        now = time.time()
        services = await _services(client, args.service)
        services += sorted({s.service for s in registered} - set(services))
        windows, _ = await read_since(client, services, now - args.since)
        rows = health_rows(golden.instance_health(windows), registered, now)
        if args.json:
            print(json.dumps({"now": now, "since_seconds": args.since, "instances": rows}, indent=2))
        elif not rows:
            echo("no instances seen" + (f" for {', '.join(services)}" if services else ""))
        else:
            echo(health_table(rows))
        return 0

    try:
        return guard("health", args.redis, lambda: asyncio.run(_with_redis(args.redis, work)))
    except Exception as exc:
        from engines.control.admin_client import AdminError

        if isinstance(exc, AdminError):
            echo(f"apex health: control plane {args.control_plane}: {exc}", file=sys.stderr)
            return 1
        raise
