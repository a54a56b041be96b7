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
class JwksStatus:
    """One JWT provider's key cache: keys in force and its counters (fetches, fetch_errors, kid_refreshes,
    kid_refresh_limited), as `apex_jwks_*` on /metrics."""

    provider: str
    keys: int
    counters: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OAuth2Status:
    """One route's OAuth2 token source: its counts (fetched, failed, refreshed, calls_refused), as
    `apex_oauth2_*` on /metrics, and when the token in force expires (never the token)."""

    listener: str
    route: str
    counters: Mapping[str, int] = field(default_factory=dict)
    token_expires_at: float | None = None  # unix seconds; None without a token


@dataclass(frozen=True, slots=True)
class SecurityStatus:
    identity: str  # the sidecar's SPIFFE ID ("" without a `security` section)
    certificate: CertificateStatus | None
    listeners: tuple[ListenerStatus, ...] = ()
    outbound_handshake_failures: Mapping[str, int] = field(default_factory=dict)  # reason -> count
    jwks: tuple[JwksStatus, ...] = ()  # by provider name
    oauth2: tuple[OAuth2Status, ...] = ()  # by (listener, route)


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
        "jwks": {j.provider: {"keys": j.keys, "counters": dict(j.counters)} for j in status.jwks},
        "oauth2": [_oauth2(o) for o in status.oauth2],
    }


def _oauth2(o: OAuth2Status) -> dict[str, object]:
    return {"listener": o.listener, "route": o.route, "counters": dict(o.counters),
            "token_expires_at": o.token_expires_at}  # fmt: skip


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
