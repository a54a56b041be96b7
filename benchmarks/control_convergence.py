"""Control-plane convergence: time from a policy write to every sidecar's ACK, with several replicas.

Starts a real Redis, R control-plane replicas (subprocesses) and N sidecars (subprocesses, spread
over the replicas) in front of one in-process Echo server, then writes K policy versions through
the replicas in turn and polls PolicyAdmin.ListInstances until all N sidecars report the version
applied (ACKed). Prints min / median / p90 / max seconds, and checks that traffic through one
sidecar had zero failures throughout. Right after each change is seen as converged, every sidecar's
own admin API (Admin.GetStats policy_version) is read too, so a convergence the control plane
reports but the sidecars do not show is an error, not a figure.

    .venv/bin/python -m benchmarks.control_convergence [--sidecars 10] [--replicas 2] [--changes 20]
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
from apex.mesh.v1 import admin_pb2, admin_pb2_grpc, config_pb2

from sidecar.config.yaml_proto import fill
from sidecar.examples.echo import BackgroundEcho
from sidecar.support.redis_server import RedisServer
from sidecar.support.sidecar_proc import start_all
from tests.support.control_plane_proc import ControlPlaneProcess, Traffic, wait_for
from tests.support.sidecar_proc import SidecarProcess, proxy_config


@dataclass
class Convergence:
    times: list[float]  # seconds from each write until every sidecar ACKed it
    seen: list[list[str]]  # per change, each sidecar's own policy_version right after
    ok: int  # traffic through one sidecar meanwhile
    failed: list[str]


def sidecar_version(admin: str) -> str:
    with grpc.insecure_channel(admin) as channel:
        stats = admin_pb2_grpc.AdminStub(channel).GetStats(admin_pb2.GetStatsRequest(), timeout=10)
    return str(stats.policy_version)


def measure(
    sidecars_n: int,
    replicas_n: int,
    changes: int,
    before_write: Callable[[int, list[SidecarProcess]], object] = lambda version, sidecars: None,
) -> Convergence:
    """Start everything, write `changes` versions, time each until all sidecars ACK; stop everything.
    `before_write(version, sidecars)` runs just before each write (tests stall a sidecar there)."""
    echo = BackgroundEcho("echo").start()
    redis = RedisServer().start()
    replicas: list[ControlPlaneProcess] = []
    sidecars: list[SidecarProcess] = []
    state = tempfile.TemporaryDirectory(prefix="apex-bench-")
    try:
        first = ControlPlaneProcess(redis.url).start()
        replicas = [first] + [ControlPlaneProcess(redis.url, prefix=first.prefix).start() for _ in range(1, replicas_n)]
        for i in range(sidecars_n):
            config = proxy_config(echo.address)
            config["control_plane"] = replicas[i % len(replicas)].address
            config["last_good_policy_file"] = str(Path(state.name) / f"{i}.binpb")
            sidecars.append(SidecarProcess(config))
        start_all(*sidecars)  # side by side: a sidecar's start-up is mostly imports
        wait_for(lambda: len([i for i in first.instances("echo") if i.healthy]) == sidecars_n, timeout=60)
        base = proxy_config(echo.address)["policy"]
        times: list[float] = []
        seen: list[list[str]] = []
        with Traffic(sidecars[0]["inbound"]) as traffic:
            for version in range(1, changes + 1):
                data = copy.deepcopy(base)
                data["clusters"][1]["authority"] = f"v{version}"
                policy = fill(config_pb2.Policy(), data, "policy")
                via = replicas[version % len(replicas)]
                before_write(version, sidecars)
                start = time.monotonic()
                via.set_policy("echo", policy, expected=version - 1)
                wait_for(
                    lambda v=str(version): all(i.applied_version == v for i in first.instances("echo")),
                    timeout=30,
                    interval=0.005,
                )
                times.append(time.monotonic() - start)
                seen.append([sidecar_version(sc["admin"]) for sc in sidecars])
        return Convergence(times, seen, traffic.ok, list(traffic.failed))
    finally:
        for sc in sidecars:
            sc.close()
        for cp in replicas:
            cp.close()
        redis.close()
        echo.close()
        state.cleanup()


def problems(result: Convergence) -> list[str]:
    """Changes the sidecars themselves did not show as applied, and failed calls."""
    found = [
        f"change {n}: sidecars report {versions}"
        for n, versions in enumerate(result.seen, start=1)
        if any(v != str(n) for v in versions)
    ]
    if result.failed:
        found.append(f"{len(result.failed)} calls failed during the changes: {result.failed[:3]}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sidecars", type=int, default=10)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--changes", type=int, default=20)
    args = parser.parse_args()
    result = measure(args.sidecars, args.replicas, args.changes)
    times = sorted(result.times)
    p90 = times[min(len(times) - 1, int(0.9 * len(times)))]
    print(f"# {platform.node()} {os.cpu_count()} cpus, python {sys.version.split()[0]}")
    print(f"sidecars={args.sidecars} replicas={args.replicas} changes={args.changes}")
    print(
        f"write -> all ACKed: min {times[0] * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} ms, "
        f"p90 {p90 * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms"
    )
    print(f"traffic through one sidecar meanwhile: {result.ok} calls ok, {len(result.failed)} failed")
    found = problems(result)
    for problem in found:
        print(f"control_convergence: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
