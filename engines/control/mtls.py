"""The control plane's mTLS port: served with a certificate from its own CA; the caller's certificate is its principal.

grpc Python can require a client certificate or not ask for one, never make it optional, so the
sidecars that hold a workload certificate reconnect to a second port (docs/security.md, "The
control plane knows who it talks to"): there a certificate from the trust bundle is required in
the handshake, and its SPIFFE ID (spiffe://<td>/ns/<namespace>/sa/<service>) is the principal,
as a join token's service is on the plaintext port. Tokens keep working on the plaintext port.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from apex.mesh.security.pki import CertificateError, identity_of, key_fingerprint, load_certs

from engines.control import authn
from engines.security.ca import MeshCA, Serving

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a verified client certificate is not a sidecar principal of this control plane."""

    code: str  # a grpc.StatusCode name
    message: str


def certificate_principal(pem: bytes, trust_domain: str, namespace: str) -> authn.Principal | Refusal:
    """The principal a verified client certificate (PEM, the leaf) names: the sidecar of the service
    in its SPIFFE ID, which must be of this CA's trust domain and the namespace it issues for."""
    if not pem:
        return Refusal("UNAUTHENTICATED", "apex: the mTLS port requires a client certificate")
    try:
        leaf = load_certs(pem)[0]
    except CertificateError as exc:
        return Refusal("UNAUTHENTICATED", f"apex: unreadable client certificate: {exc}")
    identity = identity_of(leaf)
    if identity is None:
        return Refusal("UNAUTHENTICATED", "apex: the client certificate has no SPIFFE ID")
    if identity.trust_domain != trust_domain or identity.namespace != namespace:
        return Refusal(
            "PERMISSION_DENIED",
            f"apex: {identity} is not a workload of this control plane (trust domain {trust_domain}, "
            f"namespace {namespace})",
        )
    return authn.Principal("sidecar", identity.service, str(identity), key_fingerprint(leaf))


class CertificateInterceptor(grpc.aio.ServerInterceptor):
    """Sets each call's principal from the client certificate the handshake verified."""

    def __init__(self, trust_domain: str, namespace: str) -> None:
        self.trust_domain = trust_domain
        self.namespace = namespace

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(details)
        if handler is None:
            return handler
        method = details.method

        async def resolve(context: Any) -> authn.Principal:
            pem = b"".join(context.auth_context().get("x509_pem_cert", ()))
            verdict = certificate_principal(pem, self.trust_domain, self.namespace)
            if isinstance(verdict, Refusal):
                log.warning("refused %s on the mTLS port from %s: %s", method, context.peer(), verdict.message)
                await context.abort(getattr(grpc.StatusCode, verdict.code), verdict.message)
            assert isinstance(verdict, authn.Principal)
            return verdict

        return authn.with_principal(handler, resolve)


def _configuration(serving: Serving) -> Any:
    return grpc.ssl_server_certificate_configuration(
        [(serving.key_pem, serving.chain_pem)], root_certificates=serving.bundle_pem
    )


def server_credentials(ca: MeshCA, clock: Callable[[], float]) -> grpc.ServerCredentials:
    """TLS credentials requiring a client certificate from the CA's bundle. grpc asks the fetcher at
    each new handshake: the control plane's own certificate is re-issued at half its lifetime and
    whenever the CA's roots change (rotation, retirement), so the port always verifies against the
    bundle in force and presents a certificate from the signing root."""
    state = [ca.serving(clock())]

    def fetch() -> Any:
        try:
            now, bundle = clock(), ca.bundle_pem()
            if not state[0].due(now, bundle):
                return None
            state[0] = ca.serving(now)
            log.info("the mTLS port's certificate re-issued (valid until %.0f)", state[0].not_after)
            return _configuration(state[0])
        except Exception:  # grpc-core calls this from its handshake: keep the certificate in force
            log.exception("re-issuing the mTLS port's certificate failed")
            return None

    return grpc.dynamic_ssl_server_credentials(_configuration(state[0]), fetch, require_client_authentication=True)
