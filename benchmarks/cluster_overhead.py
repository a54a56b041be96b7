"""Per-call cost of the cluster layer (caps, balancer pick, outcome feedback) without the network.

Run: .venv/bin/python benchmarks/cluster_overhead.py [--calls N]
Prints microseconds per call for each configuration and the ratio to the bare cluster service.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from dataclasses import replace

from sidecar.core.call import CallDescriptor, Code, Status
from sidecar.core.service import BufferedResponse, Request, Response, no_messages
from sidecar.discovery.endpoints import EndpointSet
from sidecar.policy.address import Address
from sidecar.policy.cluster_model import (
    BalancerKind,
    ConcurrencyLimits,
    HealthCheckPolicy,
    LoadBalancerPolicy,
    OutlierPolicy,
)
from sidecar.policy.model import Cluster, Endpoint
from sidecar.runtime.cluster import ClusterService
from sidecar.runtime.cluster_state import ClusterRuntime

OK = Status(Code.OK)


async def connector(address: str, authority: str, request: Request) -> Response:
    return BufferedResponse(OK)


async def measure(cluster: Cluster, calls: int, rounds: int = 7) -> float:
    """Best of `rounds` runs (the least disturbed by other processes), in microseconds per call."""
    service = ClusterService(EndpointSet(cluster), connector, ClusterRuntime(cluster, rng=random.Random(1)))
    call = CallDescriptor("/pkg.S/M")
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls // rounds):
            request = Request(call, no_messages())
            response = await service(request)
            await response.initial_metadata()
            request.finish(await response.status())
        best = min(best, (time.perf_counter() - start) / (calls // rounds) * 1e6)
    return best


def configs(n: int) -> dict[str, Cluster]:
    base = Cluster("c", tuple(Endpoint(Address(f"10.0.{i // 250}.{i % 250 + 1}", 1)) for i in range(n)))
    everything = {
        "limits": ConcurrencyLimits(max_requests=1000, max_retries=10),
        "outlier": OutlierPolicy(success_rate=None),
        "health_check": HealthCheckPolicy(),
    }
    return {
        "round_robin (no policy)": base,
        "least_request": replace(base, load_balancer=LoadBalancerPolicy(kind=BalancerKind.LEAST_REQUEST)),
        "peak_ewma": replace(base, load_balancer=LoadBalancerPolicy(kind=BalancerKind.PEAK_EWMA)),
        "round_robin + caps + outlier + health": replace(base, **everything),  # type: ignore[arg-type]
        "peak_ewma + caps + outlier + health": replace(
            base,
            load_balancer=LoadBalancerPolicy(kind=BalancerKind.PEAK_EWMA),
            **everything,  # type: ignore[arg-type]
        ),
    }


async def main(calls: int) -> None:
    for n in (3, 30):
        results = {name: await measure(cluster, calls) for name, cluster in configs(n).items()}
        bare = results["round_robin (no policy)"]
        print(f"{n} endpoints, {calls} calls each")
        for name, micros in results.items():
            print(f"  {name:<40} {micros:7.1f} us/call  x{micros / bare:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=50_000)
    asyncio.run(main(parser.parse_args().calls))
