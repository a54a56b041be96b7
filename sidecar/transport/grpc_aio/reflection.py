"""Ask an upstream, over gRPC server reflection, for the descriptors of one service."""

from __future__ import annotations

import logging
from typing import Any

import grpc
from grpc_reflection.v1alpha import reflection_pb2

from sidecar.transport.grpc_aio.method_kinds import Kind, kinds_from_files

log = logging.getLogger(__name__)

METHOD = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"


async def service_kinds(channel: Any, service: str, timeout: float = 5.0) -> dict[str, Kind]:
    """Method path → kind for `service`; empty when the upstream has no reflection or no such service."""
    request = reflection_pb2.ServerReflectionRequest(file_containing_symbol=service).SerializeToString()
    call = channel.stream_stream(METHOD)(iter([request]), timeout=timeout)
    files: list[bytes] = []
    try:
        async for raw in call:
            reply = reflection_pb2.ServerReflectionResponse.FromString(raw)
            if reply.HasField("error_response"):
                log.debug("reflection for %s: %s", service, reply.error_response.error_message)
                return {}
            files.extend(reply.file_descriptor_response.file_descriptor_proto)
    except grpc.aio.AioRpcError as err:
        log.debug("no reflection for %s: %s", service, err.code())
        return {}
    return kinds_from_files(service, files)
