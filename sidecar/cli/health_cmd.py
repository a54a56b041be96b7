"""`apex health`: ask a grpc.health.v1 server (a sidecar's admin port) whether it is SERVING; exit 0 if so.

For container health checks where the runtime has no native gRPC probe (Docker HEALTHCHECK).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def default_address() -> str:
    """$APEX_ADMIN with a wildcard host made local (0.0.0.0:9901 → 127.0.0.1:9901), else 127.0.0.1:9901."""
    address = os.environ.get("APEX_ADMIN", "").strip() or "127.0.0.1:9901"
    host, _, port = address.rpartition(":")
    if host in ("", "0.0.0.0", "[::]", "::"):
        host = "127.0.0.1"
    return f"{host}:{port}"


def register(commands: Any) -> None:
    p: argparse.ArgumentParser = commands.add_parser(
        "health",
        help="check a sidecar's grpc.health.v1 status (exit 0 when SERVING)",
        description="Query grpc.health.v1 Check on an admin address; exit 0 when SERVING, 1 otherwise.",
    )
    p.add_argument("--address", default=None, metavar="HOST:PORT", help="default: $APEX_ADMIN or 127.0.0.1:9901")
    p.add_argument("--service", default="", help="health service name (default '': the whole sidecar)")
    p.add_argument("--timeout", type=float, default=2.0, metavar="SECONDS")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    address = args.address or default_address()
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=args.service), timeout=args.timeout
            )
        except grpc.RpcError as exc:
            print(f"{address}: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    name = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    print(f"{address}: {name}")
    return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1
