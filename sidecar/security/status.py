"""What a sidecar may show of its security: identity, certificate validity (never a key), and per
listener who was let in and who was refused. Plain data: the admin API and the demo read it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class CertificateStatus:
    """The workload certificate in force. `generation` 0 is the placeholder nobody trusts (the CA has
    not answered yet); each installed certificate (issue, renewal, new bundle) counts one more."""

    identity: str
    serial: str  # hex, as `openssl x509 -serial` prints it
    not_before: float  # unix seconds
    not_after: float
    renew_at: float
    generation: int


@dataclass(frozen=True, slots=True)
class ListenerStatus:
    """One listener: its mTLS mode and what its peer check counted since start."""

    name: str
    mode: str  # disable | permissive | strict
    accepted: Mapping[str, int] = field(default_factory=dict)  # "mtls" / "plaintext" -> calls
    principals: Mapping[str, int] = field(default_factory=dict)  # caller's SPIFFE ID -> calls (bounded)
    rejected: Mapping[str, int] = field(default_factory=dict)  # reason -> calls
    handshake_failures: Mapping[str, int] = field(default_factory=dict)  # reason -> handshakes (h2 listeners)


@dataclass(frozen=True, slots=True)
class SecurityStatus:
    identity: str  # the sidecar's SPIFFE ID
    certificate: CertificateStatus | None
    listeners: tuple[ListenerStatus, ...] = ()
    outbound_handshake_failures: Mapping[str, int] = field(default_factory=dict)  # reason -> count


def as_dict(status: SecurityStatus) -> dict[str, object]:
    """JSON-ready: `apex admin security --json`, the demo's summary; the keys of `Workload.snapshot()`."""
    cert = status.certificate
    return {
        "identity": status.identity,
        "certificate": None
        if cert is None
        else {
            "identity": cert.identity,
            "serial": cert.serial,
            "not_before": cert.not_before,
            "not_after": cert.not_after,
            "renew_at": cert.renew_at,
            "generation": cert.generation,
        },
        "listeners": {
            lis.name: {
                "mode": lis.mode,
                "accepted": dict(lis.accepted),
                "principals": dict(lis.principals),
                "rejected": dict(lis.rejected),
                "handshake_failures": dict(lis.handshake_failures),
            }
            for lis in status.listeners
        },
        "outbound_handshake_failures": dict(status.outbound_handshake_failures),
    }


def lifetime(seconds: float) -> str:
    """A certificate's remaining life for people: '23h59m', '4m10s', '12s', 'EXPIRED 5s ago'."""
    if seconds < 0:
        return f"EXPIRED {lifetime(-seconds)} ago"
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"
