"""`apex clusters`: show a running sidecar's per cluster/endpoint balancing, caps, ejection and health state."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import grpc
from apex.mesh.v1 import cluster_policy_pb2, cluster_policy_pb2_grpc

from sidecar.cli.admin_channel import admin_channel
from sidecar.cli.jsonout import message_dict
from sidecar.cli.term import echo

State = cluster_policy_pb2.EndpointStatus.State
Health = cluster_policy_pb2.EndpointStatus.Health


def register(commands: Any) -> None:
    p: argparse.ArgumentParser = commands.add_parser(
        "clusters",
        help="show cluster and endpoint state of a running sidecar",
        description="Ask a sidecar's admin listener (ClusterAdmin.GetClusters) for load balancing, "
        "concurrency caps, outlier ejection and health-check state.",
    )
    p.add_argument(
        "--admin",
        default=os.environ.get("APEX_ADMIN", "127.0.0.1:9901"),
        metavar="HOST:PORT",
        help="the sidecar's admin address (default $APEX_ADMIN or 127.0.0.1:9901)",
    )
    p.add_argument("--cluster", default="", help="only this cluster")
    p.add_argument("--json", action="store_true", help="print the ClustersState message as JSON")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the answer (default 5)")
    p.set_defaults(run=run)


def _counters(counters: Any) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(counters.items())) or "-"


def render(state: cluster_policy_pb2.ClustersState) -> str:
    lines = [f"policy version {state.policy_version or '-'}"]
    for c in state.clusters:
        flags = ["healthy" if c.healthy else "UNHEALTHY"] + (["PANIC"] if c.panic else [])
        lines.append(
            f"cluster {c.name}  lb={c.load_balancer}  {' '.join(flags)}  in_flight={c.in_flight} "
            f"pending={c.pending} retries={c.retries_in_flight}"
        )
        if c.HasField("limits"):
            lim = c.limits
            caps = [f"{n}={getattr(lim, n)}" for n in ("max_requests", "max_pending", "max_retries") if lim.HasField(n)]
            mode = "enforced" if lim.enforced else "shadow"
            lines.append(f"  caps ({mode}): {' '.join(caps) or 'none'} reject_code={lim.reject_code}")
        lines.append(f"  counters: {_counters(c.counters)}")
        lines.append(
            f"  {'ENDPOINT':<22} {'STATE':<9} {'EJECTED':>8} {'TIMES':>5} {'EWMA_MS':>8} {'IN_FL':>5} "
            f"{'HEALTH':<11} COUNTERS"
        )
        for ep in c.endpoints:
            state_name = State.Name(ep.state)
            if ep.shadow_state != ep.state and ep.shadow_state:
                state_name += f"({State.Name(ep.shadow_state).lower()})"
            ejected = f"{ep.ejected_for_seconds:.1f}s" if ep.ejected_for_seconds else "-"
            lines.append(
                f"  {ep.address:<22} {state_name:<9} {ejected:>8} {ep.times_ejected:>5} {ep.ewma_ms:>8.1f} "
                f"{ep.in_flight:>5} {Health.Name(ep.health):<11} {_counters(ep.counters)}"
            )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    with admin_channel(args.admin) as channel:
        stub = cluster_policy_pb2_grpc.ClusterAdminStub(channel)
        try:
            state = stub.GetClusters(cluster_policy_pb2.GetClustersRequest(cluster=args.cluster), timeout=args.timeout)
        except grpc.RpcError as exc:
            echo(f"apex clusters: {args.admin}: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    if args.cluster and not any(c.name == args.cluster for c in state.clusters):
        known = ", ".join(sorted(c.name for c in state.clusters)) or "none"
        echo(f"apex clusters: cluster {args.cluster!r} not found on {args.admin} (clusters: {known})", file=sys.stderr)
        return 1
    if args.json:
        echo(json.dumps(message_dict(state), indent=2))
    else:
        echo(render(state))
    return 0
