"""The SidecarControl gRPC service: is this sidecar connected to its control plane, what did it apply."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc
from apex.mesh.v1 import control_pb2, control_pb2_grpc

if TYPE_CHECKING:
    from sidecar.runtime.sidecar import Sidecar


class SidecarControlServicer(control_pb2_grpc.SidecarControlServicer):
    def __init__(self, sidecar: Sidecar) -> None:
        self._sidecar = sidecar

    async def GetControlStatus(
        self, request: control_pb2.GetControlStatusRequest, context: Any
    ) -> control_pb2.SidecarControlStatus:
        sc = self._sidecar
        reply = control_pb2.SidecarControlStatus(policy_version=sc.policy.version)
        settings = sc.bootstrap.control_plane
        if settings is not None:
            reply.control_plane = str(settings.address)
            reply.last_good_file = settings.last_good_file
        if sc.control is not None:
            status = sc.control.status
            reply.connected = status.connected
            reply.connects = status.connects
            reply.applied = status.applied
            reply.rejected = status.rejected
            reply.last_nack = status.last_nack
        return reply


def add_to_server(server: grpc.aio.Server, sidecar: Sidecar) -> None:
    control_pb2_grpc.add_SidecarControlServicer_to_server(SidecarControlServicer(sidecar), server)
