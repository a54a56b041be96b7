"""Control-plane convergence: time from a policy write to every sidecar's ACK, with several replicas.

Starts a real Redis, R control-plane replicas (subprocesses) and N sidecars (subprocesses, spread
over the replicas) in front of one in-process Echo server, then writes K policy versions through
the replicas in turn and polls PolicyAdmin.ListInstances until all N sidecars report the version
applied (ACKed). Prints min / median / p90 / max seconds, and checks that traffic through one
sidecar had zero failures throughout.

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
from pathlib import Path

from apex.mesh.v1 import config_pb2

from sidecar.config.yaml_proto import fill
from sidecar.examples.echo import BackgroundEcho
from sidecar.support.redis_server import RedisServer
from tests.support.control_plane_proc import ControlPlaneProcess, Traffic, wait_for
from tests.support.sidecar_proc import SidecarProcess, proxy_config


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sidecars", type=int, default=10)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--changes", type=int, default=20)
    args = parser.parse_args()

    echo = BackgroundEcho("echo").start()
    redis = RedisServer().start()
    replicas: list[ControlPlaneProcess] = []
    sidecars: list[SidecarProcess] = []
    state = tempfile.TemporaryDirectory(prefix="apex-bench-")
    try:
        first = ControlPlaneProcess(redis.url).start()
        replicas = [first] + [
            ControlPlaneProcess(redis.url, prefix=first.prefix).start() for _ in range(1, args.replicas)
        ]
        for i in range(args.sidecars):
            config = proxy_config(echo.address)
            config["control_plane"] = replicas[i % len(replicas)].address
            config["last_good_policy_file"] = str(Path(state.name) / f"{i}.binpb")
            sidecars.append(SidecarProcess(config).start())
        wait_for(lambda: len([i for i in first.instances("echo") if i.healthy]) == args.sidecars, timeout=60)
        base = proxy_config(echo.address)["policy"]
        times = []
        with Traffic(sidecars[0]["inbound"]) as traffic:
            for version in range(1, args.changes + 1):
                data = copy.deepcopy(base)
                data["clusters"][1]["authority"] = f"v{version}"
                policy = fill(config_pb2.Policy(), data, "policy")
                via = replicas[version % len(replicas)]
                start = time.monotonic()
                via.set_policy("echo", policy, expected=version - 1)  # type: ignore[arg-type]
                wait_for(
                    lambda v=str(version): all(i.applied_version == v for i in first.instances("echo")),
                    timeout=30,
                    interval=0.005,
                )
                times.append(time.monotonic() - start)
        times.sort()
        p90 = times[min(len(times) - 1, int(0.9 * len(times)))]
        print(f"# {platform.node()} {os.cpu_count()} cpus, python {sys.version.split()[0]}")
        print(f"sidecars={args.sidecars} replicas={args.replicas} changes={args.changes}")
        print(
            f"write -> all ACKed: min {times[0] * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} ms, "
            f"p90 {p90 * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms"
        )
        print(f"traffic through one sidecar meanwhile: {traffic.ok} calls ok, {len(traffic.failed)} failed")
        return 0 if not traffic.failed else 1
    finally:
        for sc in sidecars:
            sc.close()
        for cp in replicas:
            cp.close()
        redis.close()
        echo.close()
        state.cleanup()


if __name__ == "__main__":
    sys.exit(main())
