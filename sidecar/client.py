"""Client helper: a gRPC channel to a named service through the app's local sidecar.

    from sidecar.client import mesh_channel
    stub = CatalogStub(mesh_channel("catalog"))          # sync grpc
    stub = CatalogStub(aio_mesh_channel("catalog"))      # grpc.aio

The channel dials the sidecar's outbound listener (`APEX_SIDECAR`, default 127.0.0.1:15001)
and names the target service both as :authority and as `apex-authority` metadata, which is
what the sidecar routes on (grpc Python servers cannot read :authority, grpc/grpc#38906).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, NamedTuple

import grpc

DEFAULT_SIDECAR = "127.0.0.1:15001"
AUTHORITY_KEY = "apex-authority"
_UNLIMITED = (("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1))


def sidecar_address(sidecar: str | None = None) -> str:
    return sidecar or os.environ.get("APEX_SIDECAR") or DEFAULT_SIDECAR


class _Details(NamedTuple):
    method: str
    timeout: float | None
    metadata: Sequence[tuple[str, str | bytes]] | None
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: Any


def _with_authority(details: Any, service: str) -> _Details:
    metadata = [*(details.metadata or ()), (AUTHORITY_KEY, service)]
    return _Details(
        details.method,
        details.timeout,
        metadata,
        details.credentials,
        getattr(details, "wait_for_ready", None),
        getattr(details, "compression", None),
    )


class _AuthorityInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    def __init__(self, service: str) -> None:
        self._service = service

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(_with_authority(details, self._service), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(_with_authority(details, self._service), request)

    def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(_with_authority(details, self._service), requests)

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(_with_authority(details, self._service), requests)


class _AioAuthority:
    def __init__(self, service: str) -> None:
        self._service = service

    def details(self, details: Any) -> Any:
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        metadata.add(AUTHORITY_KEY, self._service)
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )


class _AioUnaryUnary(_AioAuthority, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self.details(details), request)


class _AioUnaryStream(_AioAuthority, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self.details(details), request)


class _AioStreamUnary(_AioAuthority, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self.details(details), requests)


class _AioStreamStream(_AioAuthority, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self.details(details), requests)


def mesh_channel(service: str, sidecar: str | None = None, options: Sequence[tuple[str, Any]] = ()) -> grpc.Channel:
    """A sync channel reaching `service` through the local sidecar."""
    opts = [*_UNLIMITED, ("grpc.default_authority", service), *options]
    channel = grpc.insecure_channel(sidecar_address(sidecar), options=opts)
    return grpc.intercept_channel(channel, _AuthorityInterceptor(service))


def aio_mesh_channel(
    service: str, sidecar: str | None = None, options: Sequence[tuple[str, Any]] = ()
) -> grpc.aio.Channel:
    """A grpc.aio channel reaching `service` through the local sidecar."""
    opts = [*_UNLIMITED, ("grpc.default_authority", service), *options]
    interceptors = [cls(service) for cls in (_AioUnaryUnary, _AioUnaryStream, _AioStreamUnary, _AioStreamStream)]
    return grpc.aio.insecure_channel(sidecar_address(sidecar), options=opts, interceptors=interceptors)
