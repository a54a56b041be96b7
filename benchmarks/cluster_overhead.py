"""Per-call cost of the cluster layer (caps, balancer pick, outcome feedback) without the network,
on the success path and on the failure paths: one endpoint failing every call, so outlier detection
counts its failures, ejects it, half-opens it and ejects it again when the probe fails, over and
over; and caps rejecting calls.

Run: .venv/bin/python benchmarks/cluster_overhead.py [--calls N]
Prints microseconds per call for each configuration, the ratio to the bare cluster service, and
what the failure paths did (errors, ejections, readmissions, rejections) so a configuration whose
failure path never ran cannot pass for one that did.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, replace

from sidecar.core.call import CallDescriptor, Code, Status
from sidecar.core.service import BufferedResponse, Request, Response, no_messages
from sidecar.discovery.endpoints import EndpointSet
from sidecar.layers.cluster.state import ClusterRuntime
from sidecar.policy.address import Address
from sidecar.policy.cluster_model import (
    BalancerKind,
    ConcurrencyLimits,
    HealthCheckPolicy,
    LoadBalancerPolicy,
    OutlierPolicy,
)
from sidecar.policy.model import Cluster, Endpoint
from sidecar.runtime.stack import cluster_stack

OK = Status(Code.OK)
DOWN = Status(Code.UNAVAILABLE, "failing on purpose")
FAILING = "10.0.0.1:1"  # the first endpoint of every cluster below; it fails every call in the *failing* configs


@dataclass(frozen=True)
class Config:
    cluster: Cluster
    failing: bool = False  # the first endpoint answers UNAVAILABLE to every call
    hold: int = 0  # calls kept in flight while each measured call runs (to make caps reject)


@dataclass
class Measured:
    micros: float  # best of the rounds, µs per call
    statuses: Counter[str]  # final status of every call, over all rounds
    counters: dict[str, int]  # the cluster runtime's own counters (outlier, caps, panic)


def connector_for(failing: bool):  # type: ignore[no-untyped-def]
    async def connector(address: str, authority: str, request: Request) -> Response:
        return BufferedResponse(DOWN if failing and address == FAILING else OK)

    return connector


async def measure(config: Config, calls: int, rounds: int = 7) -> Measured:
    """Best of `rounds` runs (the least disturbed by other processes), in microseconds per call."""
    runtime = ClusterRuntime(config.cluster, rng=random.Random(1))
    # The cluster's whole stack as the sidecar builds it (admission when limited → balancer → connector).
    connector = connector_for(config.failing)
    service = cluster_stack(config.cluster, EndpointSet(config.cluster), runtime, connector, None).service
    call = CallDescriptor("/pkg.S/M")
    statuses: Counter[str] = Counter()
    held: list[Request] = []
    for _ in range(config.hold):  # calls that stay in flight: the caps see them
        request = Request(call, no_messages())
        await (await service(request)).initial_metadata()
        held.append(request)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls // rounds):
            request = Request(call, no_messages())
            response = await service(request)
            await response.initial_metadata()
            status = await response.status()
            request.finish(status)
            statuses[status.code.name] += 1
        best = min(best, (time.perf_counter() - start) / (calls // rounds) * 1e6)
    for request in held:
        request.finish(OK)
    counters = dict(runtime.counters)
    counters.update(runtime.admission.caps.counters)
    if runtime.outlier is not None:
        counters.update(runtime.outlier.counters)
    return Measured(best, statuses, {k: v for k, v in counters.items() if v})


def configs(n: int) -> dict[str, Config]:
    base = Cluster("c", tuple(Endpoint(Address(f"10.0.{i // 250}.{i % 250 + 1}", 1)) for i in range(n)))
    # eject after 3 failures for 1 ms, so the failing endpoint is ejected, half-opened and (its probe
    # failing) ejected again and again during the run (a 30 s ejection would idle the failure path)
    outlier = OutlierPolicy(
        consecutive_failures=3, base_ejection_time=0.001, max_ejection_time=0.001, max_ejection_percent=50.0
    )
    everything = {
        "limits": ConcurrencyLimits(max_requests=1000, max_retries=10),
        "outlier": OutlierPolicy(success_rate=None),
        "health_check": HealthCheckPolicy(),
    }
    ewma = LoadBalancerPolicy(kind=BalancerKind.PEAK_EWMA)
    return {
        "round_robin (no policy)": Config(base),
        "least_request": Config(replace(base, load_balancer=LoadBalancerPolicy(kind=BalancerKind.LEAST_REQUEST))),
        "peak_ewma": Config(replace(base, load_balancer=ewma)),
        "round_robin + caps + outlier + health": Config(replace(base, **everything)),  # type: ignore[arg-type]
        "peak_ewma + caps + outlier + health": Config(
            replace(base, load_balancer=ewma, **everything)  # type: ignore[arg-type]
        ),
        "round_robin + outlier, 1 endpoint failing": Config(replace(base, outlier=outlier), failing=True),
        "peak_ewma + outlier, 1 endpoint failing": Config(
            replace(base, load_balancer=ewma, outlier=outlier), failing=True
        ),
        "caps rejecting (max_requests 2, 2 held)": Config(
            replace(base, limits=ConcurrencyLimits(max_requests=2, max_pending=0)), hold=2
        ),
    }


def describe(m: Measured) -> str:
    """What the failure paths did: statuses other than OK, and the runtime's counters."""
    failed = {k: v for k, v in m.statuses.items() if k != "OK"}
    parts = [f"{k}={v}" for k, v in sorted(failed.items())] + [f"{k}={v}" for k, v in sorted(m.counters.items())]
    return ", ".join(parts)


async def main(calls: int) -> None:
    for n in (3, 30):
        results = {name: await measure(config, calls) for name, config in configs(n).items()}
        bare = results["round_robin (no policy)"].micros
        print(f"{n} endpoints, {calls} calls each")
        for name, m in results.items():
            extra = describe(m)
            print(f"  {name:<44} {m.micros:7.1f} us/call  x{m.micros / bare:.2f}" + (f"  [{extra}]" if extra else ""))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=50_000)
    asyncio.run(main(parser.parse_args().calls))
