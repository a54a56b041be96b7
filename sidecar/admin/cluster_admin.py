"""The ClusterAdmin gRPC service: per cluster/endpoint balancing, caps, ejection and health state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from apex.mesh.v1 import cluster_policy_pb2, cluster_policy_pb2_grpc

from sidecar.layers.outlier.detector import State
from sidecar.layers.outlier.health import Health
from sidecar.runtime.cluster_state import ClusterRuntime

if TYPE_CHECKING:
    from sidecar.runtime.sidecar import Sidecar

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
    counters = dict(runtime.counters)
    if runtime.caps_on or caps.counters:
        counters.update(caps.counters)
    if outlier is not None:
        counters.update(outlier.counters)
    if health is not None:
        counters.update({f"health_{k}": v for k, v in health.counters.items()})
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
        counters={k: v for k, v in counters.items() if v},
    )
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
        ep_counters: dict[str, int] = {}
        if outlier is not None and (record := outlier.state(address, now)) is not None:
            state = _STATE[record.state]
            ep.shadow_state = state
            if outlier.policy.enforced:
                ep.state = state
            ep.times_ejected = record.times_ejected
            ep.probes_in_flight = record.probes_out
            if record.state is State.EJECTED:
                ep.ejected_for_seconds = max(record.ejected_until - now, 0.0)
            ep_counters.update(record.counters)
        if health is not None and (checked := health.endpoints.get(address)) is not None:
            ep.health = _HEALTH[checked.health]
            ep_counters.update({f"health_{k}": v for k, v in checked.counters.items()})
        ep.counters.update({k: v for k, v in ep_counters.items() if v})
    return msg


class ClusterAdminServicer(cluster_policy_pb2_grpc.ClusterAdminServicer):
    def __init__(self, sidecar: Sidecar) -> None:
        self._sidecar = sidecar

    async def GetClusters(
        self, request: cluster_policy_pb2.GetClustersRequest, context: Any
    ) -> cluster_policy_pb2.ClustersState:
        sc = self._sidecar
        reply = cluster_policy_pb2.ClustersState(policy_version=sc.policy.version)
        for name, runtime in sorted(sc.state.clusters.items()):
            if request.cluster and name != request.cluster:
                continue
            endpoints = sc.state.endpoints.get(name)
            if endpoints is not None:
                runtime.sync(endpoints.current, runtime.clock())
            reply.clusters.append(cluster_status(runtime))
        return reply


def register(server: Any, sidecar: Sidecar) -> None:
    cluster_policy_pb2_grpc.add_ClusterAdminServicer_to_server(ClusterAdminServicer(sidecar), server)
