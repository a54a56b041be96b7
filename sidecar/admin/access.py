"""Who may call the admin listener: a bearer token and/or an mTLS peer, checked before any admin servicer runs.

grpc.health.v1 needs no token (kubelet's grpc probes cannot send one; it tells only whether the
sidecar serves). Under mTLS every caller, probes included, completes a handshake with a certificate
from the trust bundle first; `allowed` narrows which SPIFFE IDs may then call.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from apex.mesh.security import grpc_guard

from sidecar.security.peer import PeerCheck
from sidecar.transport.grpc_aio.tls import peer_uris

log = logging.getLogger(__name__)

HEALTH_PREFIX = "/grpc.health.v1.Health/"
NO_TOKEN = "apex: the admin listener requires `authorization: Bearer <token>` (set APEX_ADMIN_TOKEN for the CLI)"


class AccessGuard:
    """One listener's access rule (the admin's, the metrics listener's): a bearer token, compared as
    SHA-256 digests in constant time, and/or a PeerCheck of the mTLS peer. `refused` counts refusals
    by reason (no_token, wrong_token, and the PeerCheck reasons): bounded names, never what was sent."""

    def __init__(self, token: str | None = None, check: PeerCheck | None = None, name: str = "admin") -> None:
        self._digest = None if token is None else hashlib.sha256(token.encode()).digest()
        self.check = check
        self.name = name
        self.refused: Counter[str] = Counter()

    @property
    def wants_token(self) -> bool:
        return self._digest is not None

    def bearer_problem(self, authorization: str | None) -> str | None:
        """Why an `authorization` header value is refused (None: accepted, or no token is asked)."""
        if self._digest is None:
            return None
        if authorization is not None and authorization.startswith("Bearer "):
            sent = hashlib.sha256(authorization[len("Bearer ") :].encode()).digest()
            if hmac.compare_digest(sent, self._digest):
                return None
            self.refused["wrong_token"] += 1
            return f"apex: wrong {self.name} token"
        self.refused["no_token"] += 1
        if self.name == "admin":
            return NO_TOKEN
        return f"apex: the {self.name} listener requires `authorization: Bearer <token>`"

    def uris_problem(self, uris: list[str]) -> str | None:
        """Why the peer with these URI SANs (of its verified certificate) is refused (None: accepted)."""
        if self.check is None:
            return None
        verdict = self.check.verdict(uris)
        if verdict.reject is None:
            return None
        self.refused[verdict.reject.value] += 1
        return verdict.message


class AdminGuard(AccessGuard):
    """The admin listener's access rule, read from gRPC call details; grpc.health.v1 needs no token."""

    def token_problem(self, method: str, metadata: Any) -> str | None:
        """Why a call's metadata is refused (None: accepted)."""
        if not self.wants_token or method.startswith(HEALTH_PREFIX):
            return None
        sent = None
        for key, value in metadata or ():
            if key == "authorization" and isinstance(value, str) and value.startswith("Bearer "):
                sent = value
                break
        return self.bearer_problem(sent)

    def peer_problem(self, context: Any) -> str | None:
        if self.check is None:
            return None
        return self.uris_problem(peer_uris(context))


class AdminInterceptor(grpc.aio.ServerInterceptor):
    """Applies an AdminGuard to every admin call (UNAUTHENTICATED without the token,
    PERMISSION_DENIED for a peer certificate not allowed)."""

    def __init__(self, guard: AdminGuard) -> None:
        self.guard = guard

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(details)
        if handler is None:
            return handler
        problem = self.guard.token_problem(details.method, details.invocation_metadata)
        if problem is not None:
            log.warning("admin refused %s: %s", details.method, problem)
            return grpc_guard.refusal(handler, grpc.StatusCode.UNAUTHENTICATED, problem)
        if self.guard.check is None:
            return handler
        guard = self.guard

        async def check_peer(context: Any) -> None:
            problem = guard.peer_problem(context)
            if problem is not None:
                await context.abort(grpc.StatusCode.PERMISSION_DENIED, problem)

        return grpc_guard.before_each_call(handler, check_peer)
