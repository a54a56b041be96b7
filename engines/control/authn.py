"""Who is calling the control plane: bearer tokens mapped to principals, checked by one interceptor.

Tokens file (YAML), values are secret references, never tokens themselves:

    trust_domain: cluster.local
    sidecars:   {echo: {env: APEX_JOIN_ECHO}, shop: {file: /var/run/secrets/apex/shop}}
    operators:  {alice@corp: {env: APEX_TOKEN_ALICE}}
    engines:    {forecaster: {env: APEX_TOKEN_FORECASTER}, tuner: {env: APEX_TOKEN_TUNER}}

A sidecar token is its service's join token: it may register only that service. Operators and
engines use PolicyAdmin; the audit records their principal, never a claimed author.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
import yaml
from apex.mesh.security import grpc_guard
from apex.mesh.security.secrets import resolve

log = logging.getLogger(__name__)

KINDS = ("sidecars", "operators", "engines")


@dataclass(frozen=True, slots=True)
class Principal:
    kind: str  # "sidecar" | "operator" | "engine" | "insecure"
    name: str  # the service (sidecar), the operator's or engine's name
    spiffe_id: str = ""  # set when authenticated by a workload certificate (the mTLS port, engines/control/mtls.py)
    key: str = ""  # that certificate's public-key SHA-256: the instance id it registers is bound to it

    def __str__(self) -> str:
        return self.spiffe_id or f"{self.kind}:{self.name}"


INSECURE = Principal("insecure", "anonymous")
CURRENT: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("apex_principal", default=None)


def current() -> Principal:
    """The authenticated caller of the RPC being served (set by the interceptor)."""
    principal = CURRENT.get()
    if principal is None:
        raise RuntimeError("no authenticated principal: the authentication interceptor is missing")
    return principal


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class Authenticator:
    """Bearer token → Principal; `insecure` lets every caller in as INSECURE (a local demo only)."""

    def __init__(self, tokens: Mapping[bytes, Principal], insecure: bool = False) -> None:
        self._tokens = dict(tokens)
        self.insecure = insecure

    @classmethod
    def from_file(cls, path: str, environ: Mapping[str, str] | None = None) -> Authenticator:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping with {', '.join(KINDS)}")
        tokens: dict[bytes, Principal] = {}
        for kind in KINDS:
            section = data.get(kind) or {}
            if not isinstance(section, dict):
                raise ValueError(f"{path}: {kind} must map names to secret references")
            for name, ref in section.items():
                try:
                    token = resolve(ref, environ)
                except ValueError as exc:
                    raise ValueError(f"{path}: {kind}.{name}: {exc}") from None
                if len(token) < 16:
                    raise ValueError(f"{path}: {kind}.{name}: the token is shorter than 16 characters")
                tokens[_digest(token)] = Principal(kind[:-1], str(name))
        return cls(tokens)

    def authenticate(self, metadata: Any) -> Principal | None:
        token = ""
        for key, value in metadata or ():
            if key == "authorization" and isinstance(value, str) and value.startswith("Bearer "):
                token = value[len("Bearer ") :]
        if token:
            digest = _digest(token)
            for known, principal in self._tokens.items():
                if hmac.compare_digest(known, digest):
                    return principal
        return INSECURE if self.insecure else None


REFUSED = "apex: this control plane requires authentication: send `authorization: Bearer <token>`"
Resolve = Callable[[Any], Awaitable[Principal]]  # the call's context -> its principal (or the call is aborted)


def with_principal(handler: grpc.RpcMethodHandler[Any, Any], resolve: Resolve) -> grpc.RpcMethodHandler[Any, Any]:
    """`handler` with CURRENT set, for the call it serves, to the principal `resolve` finds."""

    async def set_principal(context: Any) -> None:
        CURRENT.set(await resolve(context))  # awaited in the handler's task: the handler sees it

    return grpc_guard.before_each_call(handler, set_principal)


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Refuses calls without a known token (UNAUTHENTICATED) before any servicer runs."""

    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(details)
        if handler is None:
            return handler
        principal = self.authenticator.authenticate(details.invocation_metadata)
        if principal is None:
            log.warning("refused %s: no valid bearer token", details.method)
            return grpc_guard.refusal(handler, grpc.StatusCode.UNAUTHENTICATED, REFUSED)
        known = principal

        async def resolve(context: Any) -> Principal:
            return known

        return with_principal(handler, resolve)
