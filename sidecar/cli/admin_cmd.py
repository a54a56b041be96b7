"""`apex admin health|config|stats|security|log-level`: read a running sidecar's admin API."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import grpc
import yaml
from apex.mesh.v1 import admin_pb2, admin_pb2_grpc, telemetry_pb2, telemetry_pb2_grpc
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sidecar.cli import admin_security
from sidecar.cli.admin_channel import admin_channel
from sidecar.cli.jsonout import message_dict


def register(commands: Any) -> None:
    p: argparse.ArgumentParser = commands.add_parser("admin", help="read a sidecar's admin API")
    p.add_argument(
        "--admin",
        default=os.environ.get("APEX_ADMIN", "127.0.0.1:9901"),
        metavar="HOST:PORT",
        help="the sidecar's admin address (default $APEX_ADMIN or 127.0.0.1:9901)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("what", choices=["health", "config", "stats", "security", "log-level"])
    p.add_argument("level", nargs="?", help="log-level: the new level (DEBUG, INFO, WARNING, ERROR); omit to read it")
    p.set_defaults(run=run)


def _health(channel: grpc.Channel, as_json: bool) -> int:
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    name = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    print(json.dumps({"status": name}) if as_json else name)
    return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1


def stacks_text(dump: admin_pb2.ConfigDump) -> str:
    """Each route's and cluster's stack, one line each, layers in call order."""
    lines = ["stacks (outermost layer first):"]
    for r in dump.route_stacks:
        lines.append(f"  route {r.listener}/{r.route}: {' → '.join(r.layers)}")
    for c in dump.clusters:
        if c.layers:
            lines.append(f"  cluster {c.name}: {' → '.join(c.layers)}")
    return "\n".join(lines)


def _config(channel: grpc.Channel, as_json: bool) -> int:
    dump = admin_pb2_grpc.AdminStub(channel).GetConfig(admin_pb2.GetConfigRequest(), timeout=5)
    data = json_format.MessageToDict(dump, preserving_proto_field_name=True)
    if as_json:
        print(json.dumps(data, indent=2))
        return 0
    data.pop("route_stacks", None)  # printed below, one line per stack
    for cluster in data.get("clusters", ()):
        cluster.pop("layers", None)
    print(yaml.safe_dump(data, sort_keys=False).rstrip())
    print(stacks_text(dump))
    return 0


def _stats(channel: grpc.Channel, as_json: bool) -> int:
    stats = admin_pb2_grpc.AdminStub(channel).GetStats(admin_pb2.GetStatsRequest(), timeout=5)
    if as_json:
        print(json.dumps(message_dict(stats), indent=2))  # counts as JSON numbers, not strings
        return 0
    print(f"policy version: {stats.policy_version or '-'}   unrouted calls: {stats.unrouted}")
    rows = [("LISTENER", "ROUTE", "CLUSTER", "CALLS", "IN-FLIGHT", "P50", "P95", "P99", "STATUS CODES")]
    for r in stats.routes:
        codes = " ".join(f"{k}={v}" for k, v in sorted(r.status_codes.items())) or "-"
        quantiles = (
            [millis(r.p50_seconds), millis(r.p95_seconds), millis(r.p99_seconds)] if r.latency_count else ["-"] * 3
        )
        rows.append((r.listener, r.route, r.cluster, str(r.calls), str(r.in_flight), *quantiles, codes))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1])
    return 0


def millis(seconds: float) -> str:
    """A latency for the table: milliseconds, three significant digits."""
    return f"{seconds * 1000:.3g}ms"


def _log_level(channel: grpc.Channel, level: str | None, as_json: bool) -> int:
    stub = telemetry_pb2_grpc.ObservabilityAdminStub(channel)
    if level:
        reply = stub.SetLogLevel(telemetry_pb2.LogLevel(level=level.upper()), timeout=5)
    else:
        reply = stub.GetLogLevel(telemetry_pb2.GetLogLevelRequest(), timeout=5)
    print(json.dumps({"level": reply.level}) if as_json else reply.level)
    return 0


def run(args: argparse.Namespace) -> int:
    handlers = {"health": _health, "config": _config, "stats": _stats, "security": admin_security.run}
    with admin_channel(args.admin) as channel:
        try:
            if args.what == "log-level":
                return _log_level(channel, args.level, args.json)
            if args.level:
                print(f"apex admin {args.what}: takes no argument (got {args.level!r})", file=sys.stderr)
                return 2
            return handlers[args.what](channel, args.json)
        except grpc.RpcError as err:
            print(f"apex admin: {args.admin}: {err.code().name}: {err.details()}", file=sys.stderr)
            return 1
