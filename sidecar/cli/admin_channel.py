"""A channel to a sidecar's admin listener, carrying `$APEX_ADMIN_TOKEN` as a bearer token when set."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import grpc
from apex.mesh.security.secrets import REDACTOR, resolve

ADMIN_TOKEN_ENV = "APEX_ADMIN_TOKEN"  # the token, or a reference to it: env:NAME / file:PATH


def admin_token(environ: Mapping[str, str] | None = None) -> str:
    value = (os.environ if environ is None else environ).get(ADMIN_TOKEN_ENV, "")
    if value.startswith(("env:", "file:")):
        return resolve(value, environ)
    return REDACTOR.add(value) if value else ""


class _Details(grpc.ClientCallDetails):
    """The call details with one more metadata entry (grpc's interceptor API wants a new object)."""

    def __init__(self, details: Any, metadata: list[tuple[str, str]]) -> None:
        self.method = details.method
        self.timeout = details.timeout
        self.metadata = metadata
        self.credentials = details.credentials
        self.wait_for_ready = getattr(details, "wait_for_ready", None)
        self.compression = getattr(details, "compression", None)


class _Bearer(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    def __init__(self, token: str) -> None:
        self._header = ("authorization", f"Bearer {token}")

    def _with_token(self, details: Any) -> Any:
        return _Details(details, [*(details.metadata or ()), self._header])

    def intercept_unary_unary(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return continuation(self._with_token(details), request)

    def intercept_stream_unary(self, continuation: Callable[..., Any], details: Any, requests: Any) -> Any:
        return continuation(self._with_token(details), requests)

    def intercept_stream_stream(self, continuation: Callable[..., Any], details: Any, requests: Any) -> Any:
        return continuation(self._with_token(details), requests)


def admin_channel(address: str) -> grpc.Channel:
    """An insecure channel to `address` (the admin listener is loopback unless it asks for a token or mTLS)."""
    channel = grpc.insecure_channel(address)
    token = admin_token()
    return grpc.intercept_channel(channel, _Bearer(token)) if token else channel
