"""apex.mesh.v1.ObservabilityAdmin: log level at runtime, telemetry publisher and span counters."""

from __future__ import annotations

from typing import Any

import grpc
from apex.mesh.v1 import telemetry_pb2, telemetry_pb2_grpc

from sidecar.admin.views import TelemetryView
from sidecar.policy.errors import ConfigError
from sidecar.telemetry import logs
from sidecar.telemetry.settings import level_name


class ObservabilityServicer(telemetry_pb2_grpc.ObservabilityAdminServicer):
    def __init__(self, telemetry: TelemetryView) -> None:
        self._telemetry = telemetry

    async def GetLogLevel(self, request: telemetry_pb2.GetLogLevelRequest, context: Any) -> telemetry_pb2.LogLevel:
        return telemetry_pb2.LogLevel(level=logs.current_level())

    async def SetLogLevel(self, request: telemetry_pb2.LogLevel, context: Any) -> telemetry_pb2.LogLevel:
        try:
            level = level_name(request.level, "level")
        except ConfigError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return telemetry_pb2.LogLevel(level=logs.set_level(level))

    async def GetTelemetryStats(
        self, request: telemetry_pb2.GetTelemetryStatsRequest, context: Any
    ) -> telemetry_pb2.TelemetryStats:
        return self._telemetry.stats()


def add_to_server(server: grpc.aio.Server, telemetry: TelemetryView) -> None:
    telemetry_pb2_grpc.add_ObservabilityAdminServicer_to_server(ObservabilityServicer(telemetry), server)
