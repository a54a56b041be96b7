"""`apex routes`: print a sidecar's route decision counters (RouteAdmin) as a table or JSON."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import grpc
from apex.mesh.v1 import route_policy_pb2, route_policy_pb2_grpc
from google.protobuf import json_format

from sidecar.cli.admin_channel import admin_channel
from sidecar.cli.term import echo

COLUMNS = (
    ("requests", "requests"),
    ("retries", "retries"),
    ("retries_succeeded", "recovered"),
    ("budget_exhausted", "budget-out"),
    ("timeouts", "timeouts"),
    ("rate_limited", "limited"),
    ("rate_limited_shadow", "limited(shadow)"),
    ("fault_delays", "f-delays"),
    ("fault_aborts", "f-aborts"),
    ("header_overrides", "overrides"),
    ("fallbacks", "fallbacks"),
)


def register(commands: Any) -> None:
    p: argparse.ArgumentParser = commands.add_parser(
        "routes",
        help="show a sidecar's route decision counters",
        description="Query a sidecar's admin listener (RouteAdmin) for split, retry, limit and fault counters.",
    )
    p.add_argument(
        "--admin",
        default=os.environ.get("APEX_ADMIN", "127.0.0.1:9901"),
        metavar="HOST:PORT",
        help="the sidecar's admin address (default $APEX_ADMIN or 127.0.0.1:9901)",
    )
    p.add_argument("--json", action="store_true", help="print the raw counters as JSON")
    p.set_defaults(run=run)


def fetch(admin: str, timeout: float = 5.0) -> route_policy_pb2.RouteDecisions:
    with admin_channel(admin) as channel:
        stub = route_policy_pb2_grpc.RouteAdminStub(channel)
        reply: route_policy_pb2.RouteDecisions = stub.GetRouteDecisions(
            route_policy_pb2.GetRouteDecisionsRequest(), timeout=timeout
        )
        return reply


def table(reply: route_policy_pb2.RouteDecisions) -> str:
    header = ["listener/route", *(title for _, title in COLUMNS), "split"]
    rows = [header]
    for r in reply.routes:
        split = " ".join(f"{name}={n}" for name, n in sorted(r.split.items()))
        rows.append([f"{r.listener}/{r.route}", *(str(getattr(r, f)) for f, _ in COLUMNS), split])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [f"policy version {reply.policy_version!r}"]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        reply = fetch(args.admin)
    except grpc.RpcError as exc:
        echo(f"apex routes: cannot query {args.admin}: {exc.code().name} {exc.details()}", file=sys.stderr)
        return 1
    if args.json:
        echo(json.dumps(json_format.MessageToDict(reply, preserving_proto_field_name=True), indent=2))
    else:
        echo(table(reply))
    return 0
