"""Adaptive concurrency in the one counter store: counters as adaptive_<counter>, the limit as a gauge."""

from __future__ import annotations

from dataclasses import replace

from sidecar.admin.cluster_admin import cluster_status
from sidecar.layers.cluster.state import ClusterRuntime
from sidecar.policy.address import Address
from sidecar.policy.cluster_model import AdaptiveConcurrencyPolicy
from sidecar.policy.model import Cluster, Endpoint
from sidecar.runtime.observe import ClusterWatch
from sidecar.telemetry import prometheus
from sidecar.telemetry.registry import Registry


def test_counters_gauges_admin_and_metrics_agree() -> None:
    policy = AdaptiveConcurrencyPolicy(initial_limit=2, enforced=True)
    cluster = Cluster("c", (Endpoint(Address("10.0.0.1", 1)),), adaptive=policy)
    rt = ClusterRuntime(cluster, lambda: 0.0)
    assert rt.adaptive is not None
    assert [rt.adaptive.acquire(0.0) for _ in range(3)] == [True, True, False]
    registry = Registry(lambda: 0.0)
    ClusterWatch({"c": rt}, registry)()
    totals = registry.cluster_totals()["c"]
    assert totals == {"adaptive_admitted": 2, "adaptive_rejected": 1}  # gauges are never diffed as counts
    assert registry.cluster_gauges["c"] == {"adaptive_limit": 2, "adaptive_in_flight": 2}
    text = prometheus.render(registry)
    assert 'apex_cluster_gauge{cluster="c",name="adaptive_limit"} 2' in text
    assert 'apex_cluster_policy_decisions_total{cluster="c",decision="adaptive_rejected"} 1' in text
    msg = cluster_status(rt)
    assert (msg.adaptive_limit, msg.adaptive_in_flight, msg.adaptive_enforced) == (2, 2, True)
    assert dict(msg.counters) == totals
    rt.configure(replace(cluster, adaptive=None))  # dropped from the policy: no layer, no gauges
    assert rt.adaptive is None and rt.gauges() == {} and not cluster_status(rt).HasField("adaptive_limit")
