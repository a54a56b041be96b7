"""apex.mesh.v1.ObservabilityAdmin: log level at runtime, telemetry publisher and span counters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc
from apex.mesh.v1 import telemetry_pb2, telemetry_pb2_grpc

from sidecar.policy.errors import ConfigError
from sidecar.telemetry import logs
from sidecar.telemetry.settings import level_name

if TYPE_CHECKING:
    from sidecar.runtime.sidecar import Sidecar


class ObservabilityServicer(telemetry_pb2_grpc.ObservabilityAdminServicer):
    def __init__(self, sidecar: Sidecar) -> None:
        self._sidecar = sidecar

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
        return self._sidecar.observer.stats()
