"""`apex admin security`: the sidecar's identity and certificate, who its listeners let in, JWKS and OAuth2 counters."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

import grpc
from apex.mesh.v1 import security_admin_pb2, security_admin_pb2_grpc

from sidecar.admin.security_admin import from_proto
from sidecar.security.status import SecurityStatus, as_dict, lifetime


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))) or "none"


def text(status: SecurityStatus, now: float) -> str:
    lines = [f"identity: {status.identity or 'none (no `security` section: no mTLS)'}"]
    cert = status.certificate
    if cert is None:
        lines.append("certificate: none yet" if status.identity else "certificate: none")
    elif cert.generation == 0:
        lines.append("certificate: placeholder (nobody trusts it): waiting for the control plane's CA")
    else:
        stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(cert.not_after))
        lines.append(
            f"certificate: serial {cert.serial}, valid until {stamp} (in {lifetime(cert.not_after - now)}), "
            f"renewal {'in ' + lifetime(cert.renew_at - now) if cert.renew_at > now else 'due'}, "
            f"installed #{cert.generation}"
        )
    for lis in status.listeners:
        if lis.mode == "disable":
            lines.append(f"listener {lis.name}: plaintext (mtls: disable)")
            continue
        lines.append(f"listener {lis.name}: mtls {lis.mode}; calls accepted: {_counts(lis.accepted)}")
        for principal, calls in sorted(lis.principals.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  {principal}: {calls} calls")
        lines.append(f"  rejected: {_counts(lis.rejected)}; failed handshakes: "
                     f"{_counts(lis.handshake_failures)}")  # fmt: skip
    if status.identity:
        lines.append(f"outbound failed handshakes: {_counts(status.outbound_handshake_failures)}")
    for j in status.jwks:
        lines.append(f"jwks {j.provider}: {j.keys} keys; {_counts(j.counters)}")
    for o in status.oauth2:
        expiry = "no token" if o.token_expires_at is None else f"token expires in {lifetime(o.token_expires_at - now)}"
        lines.append(f"oauth2 {o.listener}/{o.route}: {expiry}; {_counts(o.counters)}")
    return "\n".join(lines)


def run(channel: grpc.Channel, as_json: bool) -> int:
    reply = security_admin_pb2_grpc.SecurityAdminStub(channel).GetSecurity(
        security_admin_pb2.GetSecurityRequest(), timeout=5
    )
    status = from_proto(reply)
    print(json.dumps(as_dict(status), indent=2) if as_json else text(status, time.time()))
    return 0
