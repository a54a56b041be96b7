"""`apex ca status|rotate|retire`: the control plane's mesh CA (operators; docs/security.md)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from sidecar.cli.term import echo, safe

DEFAULT_CONTROL_PLANE = "127.0.0.1:7700"


def register(commands: Any) -> None:
    p: argparse.ArgumentParser = commands.add_parser(
        "ca",
        help="the mesh CA: status, rotate (a new root signs; both trusted), retire (drop old roots)",
        description="Operate the control plane's mesh CA. Authenticate with $APEX_TOKEN_FILE or $APEX_TOKEN. "
        "Retire only after one certificate lifetime since the rotation (every workload renewed).",
    )
    p.add_argument("action", choices=["status", "rotate", "retire"])
    p.add_argument(
        "--control-plane",
        default=os.environ.get("APEX_CONTROL_PLANE", DEFAULT_CONTROL_PLANE),
        metavar="HOST:PORT",
        help=f"control plane address (default $APEX_CONTROL_PLANE or {DEFAULT_CONTROL_PLANE})",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import grpc
    from apex.mesh.security.secrets import SecretError, bearer, client_token
    from apex.mesh.v1 import control_pb2, control_pb2_grpc

    try:
        metadata = bearer(client_token())
    except SecretError as exc:
        echo(f"apex ca: {exc}", file=sys.stderr)
        return 2
    with grpc.insecure_channel(args.control_plane) as channel:
        stub = control_pb2_grpc.CertificateAuthorityStub(channel)
        try:
            status = getattr(stub, args.action.capitalize())(control_pb2.CaRequest(), timeout=10, metadata=metadata)
        except grpc.RpcError as err:
            echo(f"apex ca {args.action}: {err.code().name}: {safe(err.details() or '')}", file=sys.stderr)
            return 1
    echo(f"trust domain {status.trust_domain}; workload certificates up to {status.workload_ttl_seconds:.0f}s")
    for i, root in enumerate(status.roots):
        role = "signing" if i == 0 else "trusted"
        echo(f"{role:8} {root.fingerprint_sha256[:16]}  until {root.not_after.ToJsonString()}  {safe(root.subject)}")
    return 0
