"""Frozen dataclasses for JWT request authentication and authorization policies (auth_policy.proto)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

ALGORITHMS = ("RS256", "ES256", "EdDSA")  # the only signature algorithms a provider may allow
DEFAULT_CLOCK_SKEW = 60.0
DEFAULT_REFRESH = 300.0
DEFAULT_MIN_REFRESH = 30.0
DEFAULT_HEADER = "authorization"


class KeySource(enum.Enum):
    FILE = "jwks_file"
    URI = "jwks_uri"
    INLINE = "jwks"


@dataclass(frozen=True, slots=True)
class JwtProvider:
    """One issuer: what its tokens must say, where its public keys are, what reaches the upstream."""

    name: str
    issuer: str
    source: KeySource
    location: str  # the file path, the https URL, or the JWKS JSON itself
    audiences: tuple[str, ...] = ()
    ca_file: str = ""  # PEM roots for an https JWKS server ("" = the system roots)
    algorithms: tuple[str, ...] = ALGORITHMS
    clock_skew: float = DEFAULT_CLOCK_SKEW
    refresh_interval: float = DEFAULT_REFRESH
    min_refresh_interval: float = DEFAULT_MIN_REFRESH
    header: str = DEFAULT_HEADER
    forward_claims: tuple[tuple[str, str], ...] = ()  # (claim, metadata key), sorted by claim
    forward_token: bool = False

    @property
    def keys_key(self) -> tuple[KeySource, str, str]:
        """What decides the provider's keys: a swap keeping it keeps the fetched keys."""
        return (self.source, self.location, self.ca_file)


@dataclass(frozen=True, slots=True)
class JwtRule:
    name: str
    providers: tuple[str, ...]
    listeners: tuple[str, ...] = ()  # empty: every inbound listener
    routes: tuple[str, ...] = ()  # empty: every route
    required: bool = False


@dataclass(frozen=True, slots=True)
class RequestAuthentication:
    providers: tuple[JwtProvider, ...] = ()
    rules: tuple[JwtRule, ...] = ()

    def provider(self, name: str) -> JwtProvider:
        return next(p for p in self.providers if p.name == name)


class Action(enum.Enum):
    ALLOW = "allow"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class Condition:
    """`request.headers[name]` (kind "header") or `request.auth.claims[a][b]` (kind "claim", path (a, b))."""

    key: str  # as written, for messages
    kind: str
    path: tuple[str, ...]
    values: tuple[str, ...] = ()
    not_values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AuthzRule:
    principals: tuple[str, ...] = ()
    not_principals: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    request_principals: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    when: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True)
class AuthzPolicy:
    name: str
    action: Action = Action.ALLOW
    listeners: tuple[str, ...] = ()  # empty: every inbound listener
    routes: tuple[str, ...] = ()
    rules: tuple[AuthzRule, ...] = field(default_factory=tuple)  # ALLOW without rules allows nothing
    dry_run: bool = False


def selects(listeners: tuple[str, ...], routes: tuple[str, ...], listener: str, inbound: bool, route: str) -> bool:
    """Whether a rule or policy naming `listeners` and `routes` applies to `route` of `listener`."""
    if listeners:
        if listener not in listeners:
            return False
    elif not inbound:
        return False
    return not routes or route in routes
