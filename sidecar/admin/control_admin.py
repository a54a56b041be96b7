"""The SidecarControl gRPC service: is this sidecar connected to its control plane, what did it apply."""

from __future__ import annotations

from typing import Any

import grpc
from apex.mesh.v1 import control_pb2, control_pb2_grpc

from sidecar.admin.views import ControlView


class SidecarControlServicer(control_pb2_grpc.SidecarControlServicer):
    def __init__(self, control: ControlView) -> None:
        self._control = control

    async def GetControlStatus(
        self, request: control_pb2.GetControlStatusRequest, context: Any
    ) -> control_pb2.SidecarControlStatus:
        view = self._control
        reply = control_pb2.SidecarControlStatus(policy_version=view.policy_version())
        plane = view.control_plane()
        if plane is not None:
            reply.control_plane, reply.last_good_file = plane
        status = view.status()
        if status is not None:
            reply.connected = status.connected
            reply.connects = status.connects
            reply.applied = status.applied
            reply.rejected = status.rejected
            reply.last_nack = status.last_nack
            reply.credential, reply.address = status.credential, status.address
        return reply


def add_to_server(server: grpc.aio.Server, control: ControlView) -> None:
    control_pb2_grpc.add_SidecarControlServicer_to_server(SidecarControlServicer(control), server)
