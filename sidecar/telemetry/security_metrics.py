"""The security series of /metrics: what the sidecar's security parts counted, as plain data, and its families.

A registry refresher (`sidecar.runtime.security_watch`) copies the counters the security parts keep
on their own objects (the workload's certificate and per-listener peer checks and handshake failures,
the admin and metrics listeners' access guards, the JWT key caches, the OAuth2 token sources) into a
`SecurityView` at each scrape; `families` turns it into Prometheus families. Every label value is a
configured name (listener, route, provider) or one of a bounded set of reasons: never a token, a
certificate field or anything else a caller chose.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

Sample = tuple[dict[str, str], float]


@dataclass(frozen=True, slots=True)
class FamilyRows:
    """One metric family: name (counters end in _total), type, help, and its samples."""

    name: str
    kind: str
    help: str
    samples: list[Sample] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ListenerSecurity:
    """One data listener with mTLS: its mode and what its peer check and handshakes counted."""

    mode: str  # permissive / strict
    accepted: Mapping[str, int]  # calls by peer mode: mtls / plaintext
    rejected: Mapping[str, int]  # calls refused after the handshake, by PeerCheck reason
    handshake_failures: Mapping[str, int]  # failed TLS handshakes by reason (h2 listeners)


@dataclass(frozen=True, slots=True)
class TokenRoute:
    """One route's OAuth2 token source."""

    counts: Mapping[str, int]  # fetched, failed, refreshed, calls_refused
    expires_at: float | None  # the token in force (seconds since the epoch), None without one


@dataclass(frozen=True, slots=True)
class SecurityView:
    identity: str = ""  # the workload's SPIFFE ID ("" without a `security` section)
    certificate_not_after: float | None = None
    certificate_generation: int = 0  # 0: none yet (or the placeholder before the CA answered)
    listeners: Mapping[str, ListenerSecurity] = field(default_factory=dict)
    outbound_handshake_failures: Mapping[str, int] = field(default_factory=dict)
    access_refused: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # "admin"/"metrics" -> reason
    access_handshake_failures: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # "metrics" -> reason
    jwks: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # provider -> KeyCache counters
    jwks_keys: Mapping[str, int] = field(default_factory=dict)  # provider -> keys in force
    oauth2: Mapping[tuple[str, str], TokenRoute] = field(default_factory=dict)  # (listener, route)


def peer_mode(key: str) -> str:
    """The peer mode of a PeerCheck.accepted key: "plaintext", or "mtls" for anything else (the
    key may be "mtls" or name the principal: either is an mTLS peer)."""
    return "plaintext" if key in ("", "plaintext") else "mtls"


def _by_reason(rows: FamilyRows, labels: dict[str, str], counts: Mapping[str, int], label: str = "reason") -> None:
    for reason, n in sorted(counts.items()):
        rows.samples.append(({**labels, label: reason}, n))


# (KeyCache counter, family, help) and (TokenSource count, family, help): the names are stable.
JWKS_COUNTERS = (
    ("fetches", "apex_jwks_fetches_total", "JWKS fetched and installed, per JWT provider."),
    ("fetch_errors", "apex_jwks_fetch_errors_total", "JWKS fetches that failed (the old keys kept), per provider."),
    ("kid_refreshes", "apex_jwks_kid_refreshes_total", "Refreshes woken by a token with an unknown key id."),
    ("kid_refresh_limited", "apex_jwks_kid_refreshes_limited_total",
     "Unknown key ids that woke no refresh (within min_refresh_interval)."),
)  # fmt: skip
OAUTH2_COUNTERS = (
    ("fetched", "apex_oauth2_token_fetches_total", "Access tokens obtained from the token endpoint, per route."),
    ("failed", "apex_oauth2_token_fetch_errors_total", "Token requests that failed, per route."),
    ("refreshed", "apex_oauth2_token_refreshes_total", "Tokens obtained that replaced an earlier one, per route."),
    ("calls_refused", "apex_oauth2_calls_refused_total", "Calls failed for want of an access token, per route."),
)


def families(view: SecurityView) -> list[FamilyRows]:
    """The security families that have samples (a sidecar without mTLS, JWT or OAuth2 shows none of theirs)."""
    out: list[FamilyRows] = []
    if view.identity:
        info = FamilyRows("apex_workload_identity_info", "gauge", "The workload's SPIFFE ID (label), always 1.")
        info.samples.append(({"identity": view.identity}, 1))
        generation = FamilyRows(
            "apex_workload_certificate_generation", "gauge",
            "Workload certificates put in force since start (0: none yet); each rotation adds one.",
        )  # fmt: skip
        generation.samples.append(({}, view.certificate_generation))
        rotations = FamilyRows(
            "apex_workload_certificate_rotations_total", "counter", "Workload certificates replaced since the first."
        )
        rotations.samples.append(({}, max(view.certificate_generation - 1, 0)))
        out += [info, generation, rotations]
        if view.certificate_not_after is not None and view.certificate_generation > 0:
            expiry = FamilyRows(
                "apex_workload_certificate_expiry_seconds", "gauge",
                "When the workload certificate in force expires, seconds since the epoch.",
            )  # fmt: skip
            expiry.samples.append(({}, view.certificate_not_after))
            out.append(expiry)
    modes = FamilyRows("apex_mtls_listener_info", "gauge", "Each mTLS listener's mode (label), always 1.")
    accepted = FamilyRows("apex_mtls_accepted_total", "counter", "Calls accepted per listener, by peer mode.")
    rejected = FamilyRows(
        "apex_mtls_rejected_total", "counter", "Calls refused after the handshake by the peer check, per reason."
    )
    handshakes = FamilyRows(
        "apex_tls_handshake_failures_total", "counter", "Failed inbound TLS handshakes per listener, by reason."
    )
    for name, lis in sorted(view.listeners.items()):
        labels = {"listener": name}
        modes.samples.append(({**labels, "mode": lis.mode}, 1))
        by_mode: dict[str, int] = {}
        for key, n in lis.accepted.items():
            by_mode[peer_mode(key)] = by_mode.get(peer_mode(key), 0) + n
        _by_reason(accepted, labels, by_mode, "mode")
        _by_reason(rejected, labels, lis.rejected)
        _by_reason(handshakes, labels, lis.handshake_failures)
    outbound = FamilyRows(
        "apex_tls_outbound_handshake_failures_total", "counter",
        "Failed TLS handshakes toward other sidecars (h2: per handshake; grpc: per failed call), by reason.",
    )  # fmt: skip
    _by_reason(outbound, {}, view.outbound_handshake_failures)
    refused = FamilyRows(
        "apex_access_refused_total", "counter", "Requests refused by the admin or metrics listener, by reason."
    )
    access_handshakes = FamilyRows(
        "apex_access_handshake_failures_total", "counter", "Failed TLS handshakes on the metrics listener, by reason."
    )
    for listener, counts in sorted(view.access_refused.items()):
        _by_reason(refused, {"listener": listener}, counts)
    for listener, counts in sorted(view.access_handshake_failures.items()):
        _by_reason(access_handshakes, {"listener": listener}, counts)
    out += [modes, accepted, rejected, handshakes, outbound, refused, access_handshakes]
    jwks = [FamilyRows(name, "counter", help_text) for _, name, help_text in JWKS_COUNTERS]
    keys = FamilyRows("apex_jwks_keys", "gauge", "Keys in force per JWT provider (0 before the first fetch).")
    for provider, counters in sorted(view.jwks.items()):
        for (counter, _, _), rows in zip(JWKS_COUNTERS, jwks, strict=True):
            rows.samples.append(({"provider": provider}, counters.get(counter, 0)))
        keys.samples.append(({"provider": provider}, view.jwks_keys.get(provider, 0)))
    out += [*jwks, keys]
    oauth2 = [FamilyRows(name, "counter", help_text) for _, name, help_text in OAUTH2_COUNTERS]
    expiry = FamilyRows(
        "apex_oauth2_token_expiry_seconds", "gauge", "When the route's access token expires, seconds since the epoch."
    )
    for (listener, route), source in sorted(view.oauth2.items()):
        labels = {"listener": listener, "route": route}
        for (count, _, _), rows in zip(OAUTH2_COUNTERS, oauth2, strict=True):
            rows.samples.append((labels, source.counts.get(count, 0)))
        if source.expires_at is not None:
            expiry.samples.append((labels, source.expires_at))
    out += [*oauth2, expiry]
    return [rows for rows in out if rows.samples]
