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
MAX_PRINCIPALS = 64  # principals counted by name per listener; calls of any further ones count under OTHER
OTHER = "other"


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
    # Accepted mTLS calls by the caller's SPIFFE ID: who called this listener. Bounded (a caller cannot
    # grow it without limit): the first MAX_PRINCIPALS identities by name, every later one under OTHER.
    principals: Counter[str] = field(default_factory=Counter)
    # Verdicts by URI SANs: the grpc listener judges every call (it sees no connection), and parsing
    # the SPIFFE ID and matching the globs each time cost as much as reading the auth context.
    _judged: dict[tuple[str, ...], Verdict] = field(default_factory=dict, repr=False)

    def verdict(self, uris: list[str]) -> Verdict:
        """Judge the peer from the URI SANs of its verified certificate ([] when it sent none:
        plaintext on a permissive listener) and count the verdict."""
        key = tuple(uris)
        judged = self._judged.get(key)
        if judged is None:
            if len(self._judged) >= 1024:
                self._judged.clear()
            judged = self._judged[key] = self.judge(uris)
        return self.record(judged)

    def record(self, verdict: Verdict) -> Verdict:
        """Count a verdict (once per call: a transport judging once per connection counts each call)."""
        if verdict.reject is not None:
            self.rejected[verdict.reject.value] += 1
        elif verdict.principal:
            self.accepted["mtls"] += 1
            principal = verdict.principal
            if principal not in self.principals and len(self.principals) >= MAX_PRINCIPALS:
                principal = OTHER
            self.principals[principal] += 1
        else:
            self.accepted["plaintext"] += 1
        return verdict

    def judge(self, uris: list[str]) -> Verdict:
        """The verdict on a peer's URI SANs, not counted."""
        if not uris:
            if self.mode is MtlsMode.STRICT:
                message = "apex: mTLS required (strict): the caller sent no client certificate"
                return Verdict("", Reject.NO_CLIENT_CERTIFICATE, message)
            return Verdict("")
        identity = None
        for uri in uris:
            try:
                identity = SpiffeId.parse(uri)
                break
            except SpiffeError:
                continue
        if identity is None:
            return Verdict("", Reject.NO_IDENTITY, "apex: the client certificate has no SPIFFE ID")
        principal = str(identity)
        if identity.trust_domain != self.trust_domain:
            message = f"apex: peer {principal} is not in trust domain {self.trust_domain}"
            return Verdict(principal, Reject.WRONG_TRUST_DOMAIN, message)
        if self.allowed and not any(fnmatch.fnmatchcase(principal, glob) for glob in self.allowed):
            return Verdict(principal, Reject.NOT_ALLOWED, f"apex: peer {principal} is not allowed on this listener")
        return Verdict(principal)
