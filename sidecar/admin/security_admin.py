"""apex.mesh.v1.SecurityAdmin: the sidecar's identity, its certificate, who its listeners let in, and its
JWKS caches' and OAuth2 token sources' counters."""

from __future__ import annotations

from typing import Any

import grpc
from apex.mesh.v1 import security_admin_pb2, security_admin_pb2_grpc

from sidecar.admin.views import SecurityView
from sidecar.security.status import CertificateStatus, JwksStatus, ListenerStatus, OAuth2Status, SecurityStatus


def to_proto(status: SecurityStatus) -> security_admin_pb2.SecurityStatus:
    reply = security_admin_pb2.SecurityStatus(identity=status.identity)
    reply.outbound_handshake_failures.update(status.outbound_handshake_failures)
    cert = status.certificate
    if cert is not None:
        reply.certificate.CopyFrom(
            security_admin_pb2.WorkloadCertificate(
                identity=cert.identity, serial=cert.serial, not_before=cert.not_before, not_after=cert.not_after,
                renew_at=cert.renew_at, generation=cert.generation,
            )
        )  # fmt: skip
    for lis in status.listeners:
        out = reply.listeners.add(name=lis.name, mode=lis.mode)
        out.accepted.update(lis.accepted)
        out.principals.update(lis.principals)
        out.rejected.update(lis.rejected)
        out.handshake_failures.update(lis.handshake_failures)
    for j in status.jwks:
        reply.jwks.add(provider=j.provider, keys=j.keys).counters.update(j.counters)
    for o in status.oauth2:
        route = reply.oauth2.add(listener=o.listener, route=o.route, token_expires_at=o.token_expires_at or 0.0)
        route.counters.update(o.counters)
    return reply


def from_proto(reply: security_admin_pb2.SecurityStatus) -> SecurityStatus:
    """The reply as the plain status again (a client's side: `apex admin security`, the demo);
    `sidecar.security.status.as_dict` of it is JSON-ready, the keys of `Workload.snapshot()`."""
    cert = None
    if reply.HasField("certificate"):
        c = reply.certificate
        cert = CertificateStatus(c.identity, c.serial, c.not_before, c.not_after, c.renew_at, c.generation)
    listeners = tuple(
        ListenerStatus(
            lis.name,
            lis.mode,
            dict(lis.accepted),
            dict(lis.principals),
            dict(lis.rejected),
            dict(lis.handshake_failures),
        )
        for lis in reply.listeners
    )
    jwks = tuple(JwksStatus(j.provider, j.keys, dict(j.counters)) for j in reply.jwks)
    oauth2 = tuple(
        OAuth2Status(o.listener, o.route, dict(o.counters), o.token_expires_at or None) for o in reply.oauth2
    )
    return SecurityStatus(reply.identity, cert, listeners, dict(reply.outbound_handshake_failures), jwks, oauth2)


class SecurityAdminServicer(security_admin_pb2_grpc.SecurityAdminServicer):
    def __init__(self, security: SecurityView) -> None:
        self._security = security

    async def GetSecurity(
        self, request: security_admin_pb2.GetSecurityRequest, context: Any
    ) -> security_admin_pb2.SecurityStatus:
        status = self._security.status()
        if status is None:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                "this sidecar has no workload identity (no `security` section), no JWT key source and no "
                "OAuth2 route: nothing to show",
            )
        assert status is not None
        return to_proto(status)


def add_to_server(server: grpc.aio.Server, security: SecurityView) -> None:
    security_admin_pb2_grpc.add_SecurityAdminServicer_to_server(SecurityAdminServicer(security), server)
