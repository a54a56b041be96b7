"""How long a sidecar spends on its join token before its certificate takes over, and how fast it finds a
restarted control plane's new mTLS port (docs/security.md, "After the first certificate").

Starts a real Redis, a control plane with --auth --ca-dir and one sidecar per run; reads the sidecar's
log stamps for its token stream and its mTLS stream, then restarts the control plane (a new mTLS port)
and times the sidecar's return there. `.venv/bin/python -m benchmarks.control_mtls_switch --runs 3
[--instance-lease 1s]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import tempfile
import time
from pathlib import Path

import grpc
from apex.mesh.v1 import control_pb2, control_pb2_grpc

from sidecar.examples.echo import BackgroundEcho
from sidecar.support.redis_server import RedisServer
from sidecar.support.sidecar_proc import SidecarProcess
from tests.support.control_plane_proc import ControlPlaneProcess, wait_for

TOKEN = "join-echo-0123456789abcdef"
CONNECTED = re.compile(r'"time":"([^"]+)".*connected to the control plane at \S+ \((join token|certificate)')


def _status(admin: str) -> control_pb2.SidecarControlStatus:
    with grpc.insecure_channel(admin) as channel:
        stub = control_pb2_grpc.SidecarControlStub(channel)
        return stub.GetControlStatus(control_pb2.GetControlStatusRequest(), timeout=5)


def _stamp(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def run_once(redis_url: str, upstream: str, tmp: Path, n: int, lease: str) -> dict[str, float]:
    args = ["--auth", str(tmp / "tokens.yaml"), "--ca-dir", str(tmp / f"ca{n}"), "--instance-lease", lease]
    with ControlPlaneProcess(redis_url, args=args) as cp:
        config = {
            "node": {"service": "echo", "instance": f"echo-{n}"},
            "control_plane": cp.address,
            "security": {"join_token": {"env": "APEX_JOIN_ECHO"}},
            "admin": {"address": "127.0.0.1:0"},
            "logging": {"format": "JSON"},
            "listeners": [{"name": "inbound", "address": "127.0.0.1:0", "direction": "INBOUND"}],
            "policy": {
                "route_tables": [{"name": "inbound", "routes": [{"name": "l", "cluster": "l"}]}],
                "clusters": [{"name": "l", "endpoints": [{"address": upstream}]}],
            },
        }
        with SidecarProcess(config, env={"APEX_JOIN_ECHO": TOKEN}) as sidecar:
            admin = sidecar["admin"]
            wait_for(lambda: _status(admin).credential.startswith("certificate") and _status(admin).connected, 30)
            stamps = {kind: _stamp(at) for at, kind in reversed(CONNECTED.findall(sidecar.log()))}
            cp.stop()
            cp.start()
            moved = json.loads(cp.ports_path.read_text())["control_plane_mtls"]
            back = time.monotonic()
            try:
                wait_for(lambda: (s := _status(admin)).connected and s.address == moved, timeout=30)
            except AssertionError:
                print(sidecar.log()[-3000:], cp.log()[-3000:])
                raise
            return {
                "token_to_mtls_s": stamps["certificate"] - stamps["join token"],
                "back_on_new_mtls_port_s": time.monotonic() - back,
            }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--instance-lease",
        default="10s",
        help="the control plane's --instance-lease; shorter than its restart (1s) times the path where the id "
        "lapsed and the sidecar's token stream fetches a new certificate",
    )
    args = parser.parse_args()
    os.environ["APEX_JOIN_ECHO"] = TOKEN
    tmp = Path(tempfile.mkdtemp(prefix="apex-cp-mtls-"))
    (tmp / "tokens.yaml").write_text("sidecars:\n  echo: {env: APEX_JOIN_ECHO}\n")
    redis, echo = RedisServer().start(), BackgroundEcho("echo").start()
    try:
        for n in range(args.runs):
            figures = run_once(redis.url, echo.address, tmp, n, args.instance_lease)
            print(
                f"run {n}: token stream -> mTLS stream {figures['token_to_mtls_s'] * 1000:.0f} ms; "
                f"after a control-plane restart, back on its new mTLS port {figures['back_on_new_mtls_port_s']:.2f} s"
                " after it was ready"
            )
    finally:
        echo.close()
        redis.stop()


if __name__ == "__main__":
    main()
