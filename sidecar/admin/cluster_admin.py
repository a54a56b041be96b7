"""The ClusterAdmin gRPC service: per cluster/endpoint balancing, caps, ejection and health state."""

from __future__ import annotations

from typing import Any

import grpc
from apex.mesh.v1 import cluster_policy_pb2, cluster_policy_pb2_grpc

from sidecar.admin.views import ClustersView
from sidecar.layers.cluster.state import ClusterRuntime
from sidecar.layers.outlier.detector import State
from sidecar.layers.outlier.health import Health

_STATE = {
    State.ACTIVE: cluster_policy_pb2.EndpointStatus.ACTIVE,
    State.EJECTED: cluster_policy_pb2.EndpointStatus.EJECTED,
    State.HALF_OPEN: cluster_policy_pb2.EndpointStatus.HALF_OPEN,
}
_HEALTH = {
    Health.UNKNOWN: cluster_policy_pb2.EndpointStatus.UNKNOWN,
    Health.SERVING: cluster_policy_pb2.EndpointStatus.SERVING,
    Health.NOT_SERVING: cluster_policy_pb2.EndpointStatus.NOT_SERVING,
}


def cluster_status(runtime: ClusterRuntime) -> cluster_policy_pb2.ClusterStatus:
    """Everything the runtime knows about one cluster, as the admin message."""
    now = runtime.clock()
    cluster = runtime.cluster
    caps = runtime.admission.caps
    outlier, health = runtime.outlier, runtime.health
    counters = runtime.counter_totals()  # named as in windows and /metrics: balancer_, caps_, outlier_, health_
    msg = cluster_policy_pb2.ClusterStatus(
        name=runtime.name,
        load_balancer=cluster.load_balancer.kind.value,
        healthy=runtime.healthy(now),
        panic=runtime.panic,
        in_flight=sum(load.in_flight for load in runtime.loads.values()),
        pending=caps.pending,
        retries_in_flight=caps.retries,
        outlier_enforced=outlier is not None and outlier.policy.enforced,
        health_check_enforced=health is not None and health.policy.enforced,
        counters=counters,
    )
    if runtime.adaptive is not None:
        msg.adaptive_limit = runtime.adaptive.current
        msg.adaptive_in_flight = runtime.adaptive.in_flight
        msg.adaptive_enforced = runtime.adaptive.policy.enforced
    lim = cluster.limits
    if lim is not None:
        msg.limits.reject_code = lim.reject_code.name
        msg.limits.enforced = lim.enforced
        msg.limits.max_pending = lim.max_pending
        msg.limits.pending_timeout.FromNanoseconds(round(lim.pending_timeout * 1e9))
        if lim.max_requests is not None:
            msg.limits.max_requests = lim.max_requests
        if lim.max_retries is not None:
            msg.limits.max_retries = lim.max_retries
    for address, load in runtime.loads.items():
        ep = msg.endpoints.add(
            address=address,
            weight=load.weight,
            ewma_ms=load.ewma.current(now) * 1000.0,
            in_flight=load.in_flight,
            state=cluster_policy_pb2.EndpointStatus.ACTIVE,
            health=cluster_policy_pb2.EndpointStatus.UNKNOWN,
        )
        if outlier is not None and (record := outlier.state(address, now)) is not None:
            state = _STATE[record.state]
            ep.shadow_state = state
            if outlier.policy.enforced:
                ep.state = state
            ep.times_ejected = record.times_ejected
            ep.probes_in_flight = record.probes_out
            if record.state is State.EJECTED:
                ep.ejected_for_seconds = max(record.ejected_until - now, 0.0)
        if health is not None and (checked := health.endpoints.get(address)) is not None:
            ep.health = _HEALTH[checked.health]
        ep.counters.update(runtime.endpoint_counter_totals(address))
    return msg


class ClusterAdminServicer(cluster_policy_pb2_grpc.ClusterAdminServicer):
    def __init__(self, clusters: ClustersView) -> None:
        self._clusters = clusters

    async def GetClusters(
        self, request: cluster_policy_pb2.GetClustersRequest, context: Any
    ) -> cluster_policy_pb2.ClustersState:
        reply = cluster_policy_pb2.ClustersState(policy_version=self._clusters.policy_version())
        for runtime in sorted(self._clusters.clusters(), key=lambda rt: rt.name):
            if not request.cluster or runtime.name == request.cluster:
                reply.clusters.append(cluster_status(runtime))
        return reply


def add_to_server(server: grpc.aio.Server, clusters: ClustersView) -> None:
    cluster_policy_pb2_grpc.add_ClusterAdminServicer_to_server(ClusterAdminServicer(clusters), server)
