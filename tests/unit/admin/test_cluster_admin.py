"""ClusterAdmin state from a runtime on a fake clock, and its `apex clusters` rendering."""

from __future__ import annotations

import random
from dataclasses import replace

from apex.mesh.v1 import cluster_policy_pb2

from sidecar.admin.cluster_admin import cluster_status
from sidecar.cli.clusters_cmd import render
from sidecar.core.call import Code, Status
from sidecar.discovery.endpoints import EndpointSet
from sidecar.layers.cluster.state import ClusterRuntime
from sidecar.policy.address import Address
from sidecar.policy.cluster_model import ConcurrencyLimits, HealthCheckPolicy, OutlierPolicy
from sidecar.policy.model import Cluster, Endpoint
from sidecar.runtime.observe import ClusterWatch
from sidecar.telemetry.registry import Registry

EP = cluster_policy_pb2.EndpointStatus


class Clock:
    now = 50.0

    def __call__(self) -> float:
        return self.now


def runtime(enforced: bool = True) -> tuple[ClusterRuntime, Clock]:
    cluster = Cluster(
        name="c",
        endpoints=(Endpoint(Address("10.0.0.1", 1), weight=2), Endpoint(Address("10.0.0.2", 1))),
        limits=ConcurrencyLimits(max_requests=5, max_retries=1),
        outlier=OutlierPolicy(
            consecutive_failures=1, base_ejection_time=10.0, max_ejection_percent=50, enforced=enforced
        ),
        health_check=HealthCheckPolicy(),
    )
    clock = Clock()
    rt = ClusterRuntime(cluster, clock, random.Random(0))
    rt.sync(EndpointSet(cluster).current, clock())
    return rt, clock


def test_status_reports_ejection_health_caps_and_counters() -> None:
    rt, clock = runtime()
    assert rt.outlier is not None and rt.health is not None
    rt.outlier.record("10.0.0.1:1", Status(Code.INTERNAL), clock(), probe=False)
    rt.health.record("10.0.0.2:1", True, clock())
    clock.now += 4.0
    msg = cluster_status(rt)
    assert msg.name == "c" and msg.load_balancer == "round_robin" and msg.healthy
    assert msg.limits.max_requests == 5 and msg.limits.max_retries == 1 and msg.limits.enforced
    assert msg.counters["outlier_ejections"] == 1 and msg.counters["health_checks_passed"] == 1
    first, second = msg.endpoints
    assert (first.address, first.weight, first.state, first.times_ejected) == ("10.0.0.1:1", 2, EP.EJECTED, 1)
    assert abs(first.ejected_for_seconds - 6.0) < 1e-9
    assert first.counters["outlier_failures"] == 1 and first.ewma_ms > 0
    assert second.state == EP.ACTIVE and second.health == EP.SERVING
    text = render(cluster_policy_pb2.ClustersState(clusters=[msg], policy_version="v9"))
    assert "cluster c  lb=round_robin  healthy" in text and "EJECTED" in text and "6.0s" in text


def test_shadow_mode_reports_active_with_the_shadow_state() -> None:
    rt, clock = runtime(enforced=False)
    assert rt.outlier is not None
    rt.outlier.record("10.0.0.1:1", Status(Code.INTERNAL), clock(), probe=False)
    msg = cluster_status(rt)
    first = msg.endpoints[0]
    assert first.state == EP.ACTIVE and first.shadow_state == EP.EJECTED
    assert msg.counters["outlier_shadow_would_ejections"] == 1 and not msg.outlier_enforced
    assert "ACTIVE(ejected)" in render(cluster_policy_pb2.ClustersState(clusters=[msg]))
    rt.configure(replace(rt.cluster, outlier=None, health_check=None))
    assert cluster_status(rt).endpoints[0].state == EP.ACTIVE


def test_admin_windows_and_metrics_name_cluster_counters_alike() -> None:
    """One naming scheme: ClusterAdmin shows exactly the counters the registry (windows, /metrics) gets."""
    rt, clock = runtime()
    assert rt.outlier is not None and rt.health is not None
    rt.outlier.record("10.0.0.1:1", Status(Code.INTERNAL), clock(), probe=False)
    rt.health.record("10.0.0.2:1", False, clock())
    rt.admission.caps.decide(retry=False)
    registry = Registry(lambda: 0.0)
    ClusterWatch({"c": rt}, registry)()
    msg = cluster_status(rt)
    assert dict(msg.counters) == registry.cluster_totals()["c"]
    assert {"caps_admitted", "outlier_ejections", "health_checks_failed"} <= set(msg.counters)
    for ep in msg.endpoints:
        assert dict(ep.counters) == registry.endpoint_counters(("c", ep.address))
    assert msg.endpoints[0].counters["outlier_ejections"] == 1
