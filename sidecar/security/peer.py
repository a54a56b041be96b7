"""Peer checks after the handshake: mTLS mode per listener, allowed principals, rejection counters."""

from __future__ import annotations

import enum
import fnmatch
from collections import Counter
from dataclasses import dataclass, field

from apex.mesh.security.spiffe import SpiffeError, SpiffeId


class MtlsMode(enum.Enum):
    """Istio's PeerAuthentication modes for one listener."""

    DISABLE = "disable"  # plaintext only
    PERMISSIVE = "permissive"  # plaintext (no principal) or mTLS on the same port
    STRICT = "strict"  # mTLS only: a client certificate from the trust bundle naming an allowed SPIFFE ID


class Reject(enum.Enum):
    """Why a call was refused after the handshake (handshake failures never reach a handler)."""

    NO_CLIENT_CERTIFICATE = "no_client_certificate"  # UNAUTHENTICATED
    NO_IDENTITY = "no_identity"  # UNAUTHENTICATED: certificate without a SPIFFE ID
    WRONG_TRUST_DOMAIN = "wrong_trust_domain"  # PERMISSION_DENIED
    NOT_ALLOWED = "not_allowed"  # PERMISSION_DENIED: identity not among the allowed principals


UNAUTHENTICATED_REASONS = frozenset({Reject.NO_CLIENT_CERTIFICATE, Reject.NO_IDENTITY})


@dataclass(frozen=True, slots=True)
class Verdict:
    principal: str  # the peer's SPIFFE ID, "" when it sent none
    reject: Reject | None = None
    message: str = ""


@dataclass(slots=True)
class PeerCheck:
    """What one listener accepts. `allowed` holds SPIFFE ID globs (empty: any identity of the trust domain)."""

    mode: MtlsMode
    trust_domain: str
    allowed: tuple[str, ...] = ()
    rejected: Counter[str] = field(default_factory=Counter)
    accepted: Counter[str] = field(default_factory=Counter)  # "mtls" / "plaintext"

    def verdict(self, uris: list[str]) -> Verdict:
        """Judge the peer from the URI SANs of its verified certificate ([] when it sent none:
        plaintext on a permissive listener)."""
        if not uris:
            if self.mode is MtlsMode.STRICT:
                return self._no(
                    Verdict(
                        "",
                        Reject.NO_CLIENT_CERTIFICATE,
                        "apex: mTLS required (strict): the caller sent no client certificate",
                    )
                )
            self.accepted["plaintext"] += 1
            return Verdict("")
        identity = None
        for uri in uris:
            try:
                identity = SpiffeId.parse(uri)
                break
            except SpiffeError:
                continue
        if identity is None:
            return self._no(Verdict("", Reject.NO_IDENTITY, "apex: the client certificate has no SPIFFE ID"))
        principal = str(identity)
        if identity.trust_domain != self.trust_domain:
            return self._no(
                Verdict(
                    principal,
                    Reject.WRONG_TRUST_DOMAIN,
                    f"apex: peer {principal} is not in trust domain {self.trust_domain}",
                )
            )
        if self.allowed and not any(fnmatch.fnmatchcase(principal, glob) for glob in self.allowed):
            return self._no(
                Verdict(principal, Reject.NOT_ALLOWED, f"apex: peer {principal} is not allowed on this listener")
            )
        self.accepted["mtls"] += 1
        return Verdict(principal)

    def _no(self, verdict: Verdict) -> Verdict:
        assert verdict.reject is not None
        self.rejected[verdict.reject.value] += 1
        return verdict
