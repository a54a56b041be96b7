"""The health-check runner: due checks run concurrently, results reach the tracker, a broken probe fails the check."""

from __future__ import annotations

import asyncio
import random

from sidecar.discovery.endpoints import EndpointSet
from sidecar.layers.cluster.state import ClusterRuntime
from sidecar.layers.outlier.health import Health
from sidecar.policy.address import Address
from sidecar.policy.cluster_model import HealthCheckPolicy
from sidecar.policy.model import Cluster, Endpoint
from sidecar.runtime.health_runner import run_due


class Prober:
    """Answers Check from a table (our Prober protocol; the grpc one is tested in integration)."""

    def __init__(self) -> None:
        self.serving = {"10.0.0.1:1": True, "10.0.0.2:1": False}
        self.checked: list[tuple[str, str, float]] = []

    async def check(self, address: str, authority: str, service: str, timeout: float) -> tuple[bool, str]:
        self.checked.append((address, service, timeout))
        if address == "10.0.0.3:1":
            raise OSError("probe exploded")
        ok = self.serving[address]
        return ok, "SERVING" if ok else "NOT_SERVING"


def test_due_checks_run_and_results_reach_the_tracker() -> None:
    async def main() -> None:
        now = [0.0]
        cluster = Cluster(
            name="c",
            endpoints=tuple(Endpoint(Address(f"10.0.0.{i}", 1)) for i in (1, 2, 3)),
            health_check=HealthCheckPolicy(interval=1.0, timeout=0.5, unhealthy_threshold=1, service="svc"),
        )
        rt = ClusterRuntime(cluster, lambda: now[0], random.Random(0))
        rt.sync(EndpointSet(cluster).current, 0.0)
        prober = Prober()
        tasks: set[asyncio.Task[None]] = set()
        now[0] = 0.2
        await run_due(prober, [rt], tasks)
        await asyncio.gather(*tasks)
        assert sorted(a for a, _, _ in prober.checked) == ["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"]
        assert all(s == "svc" and t == 0.5 for _, s, t in prober.checked)
        assert rt.health is not None
        health = {a: ep.health for a, ep in rt.health.endpoints.items()}
        assert health == {
            "10.0.0.1:1": Health.SERVING,
            "10.0.0.2:1": Health.NOT_SERVING,
            "10.0.0.3:1": Health.NOT_SERVING,
        }
        assert "probe error: probe exploded" in rt.health.endpoints["10.0.0.3:1"].last_detail
        assert not rt.available("10.0.0.2:1", now[0]) and rt.healthy()
        await run_due(prober, [rt], tasks)  # nothing due until an interval has passed
        assert not tasks and len(prober.checked) == 3

    asyncio.run(main())
