"""Validated conversion of Policy.jwt and Policy.authorization (auth_policy.proto) into the auth model."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from apex.mesh.v1 import auth_policy_pb2

from sidecar.policy.auth_model import (
    ALGORITHMS,
    DEFAULT_CLOCK_SKEW,
    DEFAULT_HEADER,
    DEFAULT_MIN_REFRESH,
    DEFAULT_REFRESH,
    Action,
    AuthzPolicy,
    AuthzRule,
    Condition,
    JwtProvider,
    JwtRule,
    KeySource,
    RequestAuthentication,
)
from sidecar.policy.errors import ConfigError
from sidecar.policy.fields import positive_seconds, required_name
from sidecar.security.jwks import JwksError, parse_jwks

_CLAIM_KEY = re.compile(r"^request\.auth\.claims((?:\[[^\[\]]+\])+)$")
_HEADER_KEY = re.compile(r"^request\.headers\[([^\[\]]+)\]$")
# Metadata a forwarded claim must never overwrite: pseudo-headers, credentials, gRPC's own.
_RESERVED = ("authorization", "cookie", "te", "content-type", "user-agent", "host")


def _metadata_key(value: str, path: str) -> str:
    if not value or value != value.lower() or value.startswith(":") or " " in value or value.startswith("grpc-"):
        raise ConfigError(path, f"expected a lower-case metadata key (not grpc-*), got {value!r}")
    return value


def _strings(values: Iterable[str], path: str, what: str) -> tuple[str, ...]:
    out = tuple(values)
    for i, value in enumerate(out):
        if not value:
            raise ConfigError(f"{path}[{i}]", f"{what} must not be empty")
    return out


def _selectors(listeners: Sequence[str], routes: Sequence[str], path: str, known_routes: set[str]) -> None:
    _strings(listeners, f"{path}.listeners", "listener name")
    for i, route in enumerate(routes):
        if route not in known_routes:
            known = ", ".join(sorted(known_routes)) or "none"
            raise ConfigError(f"{path}.routes[{i}]", f"no route named {route!r} (routes: {known})")


def provider(msg: auth_policy_pb2.JwtProvider, path: str) -> JwtProvider:
    name = required_name(msg.name, f"{path}.name", "provider name")
    if not msg.issuer:
        raise ConfigError(f"{path}.issuer", "issuer is required (the exact `iss` of the provider's tokens)")
    kind = msg.WhichOneof("keys")
    if kind is None:
        raise ConfigError(path, "one of jwks_file, jwks_uri or jwks is required (where the public keys are)")
    location: str = getattr(msg, kind)
    if kind == "jwks_uri" and not location.startswith("https://"):
        raise ConfigError(f"{path}.jwks_uri", f"keys are fetched over https only, got {location!r}")
    if kind == "jwks_file" and not location:
        raise ConfigError(f"{path}.jwks_file", "a path is required")
    if kind == "jwks":
        try:
            parse_jwks(location.encode())
        except JwksError as exc:
            raise ConfigError(f"{path}.jwks", str(exc)) from None
    if msg.jwks_ca_file and kind != "jwks_uri":
        raise ConfigError(f"{path}.jwks_ca_file", "only used with jwks_uri")
    algorithms = tuple(msg.algorithms) or ALGORITHMS
    for i, alg in enumerate(algorithms):
        if alg not in ALGORITHMS:
            why = (
                "symmetric algorithms are refused (a public key must never serve as an HMAC secret)"
                if alg.upper().startswith("HS")
                else "unsigned tokens are refused"
                if alg.lower() == "none"
                else "unsupported"
            )
            raise ConfigError(f"{path}.algorithms[{i}]", f"{alg!r}: {why}; allowed: {', '.join(ALGORITHMS)}")
    if len(set(algorithms)) != len(algorithms):
        raise ConfigError(f"{path}.algorithms", "duplicate algorithm")
    claims = []
    for claim, key in sorted(msg.forward_claims.items()):
        if not claim:
            raise ConfigError(f"{path}.forward_claims", "claim names must not be empty")
        key = _metadata_key(key, f"{path}.forward_claims.{claim}")
        if key in _RESERVED:
            raise ConfigError(f"{path}.forward_claims.{claim}", f"{key!r} is reserved metadata")
        claims.append((claim, key))
    if len({key for _, key in claims}) != len(claims):
        raise ConfigError(f"{path}.forward_claims", "two claims forwarded under one metadata key")
    header = _metadata_key(msg.header, f"{path}.header") if msg.header else DEFAULT_HEADER
    refresh = positive_seconds(msg, "refresh_interval", path, DEFAULT_REFRESH)
    min_refresh = positive_seconds(msg, "min_refresh_interval", path, DEFAULT_MIN_REFRESH)
    return JwtProvider(
        name=name,
        issuer=msg.issuer,
        source=KeySource(kind),
        location=location,
        audiences=_strings(msg.audiences, f"{path}.audiences", "audience"),
        ca_file=msg.jwks_ca_file,
        algorithms=algorithms,
        clock_skew=(msg.clock_skew.ToTimedelta().total_seconds() if msg.HasField("clock_skew") else DEFAULT_CLOCK_SKEW),
        refresh_interval=refresh,
        min_refresh_interval=min(min_refresh, refresh),
        header=header,
        forward_claims=tuple(claims),
        forward_token=msg.forward_token,
    )


def request_authentication(
    msg: auth_policy_pb2.RequestAuthentication, path: str, known_routes: set[str]
) -> RequestAuthentication:
    providers: list[JwtProvider] = []
    for i, p in enumerate(msg.providers):
        converted = provider(p, f"{path}.providers[{i}]")
        if any(q.name == converted.name for q in providers):
            raise ConfigError(f"{path}.providers[{i}].name", f"duplicate provider name {converted.name!r}")
        if any(q.issuer == converted.issuer for q in providers):
            raise ConfigError(f"{path}.providers[{i}].issuer", f"issuer {converted.issuer!r} has two providers")
        providers.append(converted)
    names = {p.name for p in providers}
    rules: list[JwtRule] = []
    for i, r in enumerate(msg.rules):
        rpath = f"{path}.rules[{i}]"
        rule_name = r.name or f"rule-{i}"
        if not r.providers:
            raise ConfigError(f"{rpath}.providers", "at least one provider is required")
        for j, name in enumerate(r.providers):
            if name not in names:
                raise ConfigError(f"{rpath}.providers[{j}]", f"no provider named {name!r} (providers: {sorted(names)})")
        _selectors(r.listeners, r.routes, rpath, known_routes)
        rules.append(JwtRule(rule_name, tuple(r.providers), tuple(r.listeners), tuple(r.routes), r.required))
    return RequestAuthentication(tuple(providers), tuple(rules))


def _principal_globs(values: Iterable[str], path: str) -> tuple[str, ...]:
    out = _strings(values, path, "principal")
    for i, glob in enumerate(out):
        if glob != "*" and not glob.startswith("spiffe://"):
            raise ConfigError(f"{path}[{i}]", f"{glob!r} is not a SPIFFE ID glob (spiffe://...) or '*'")
    return out


def condition(msg: auth_policy_pb2.AuthorizationCondition, path: str) -> Condition:
    key = msg.key.strip()
    if (m := _HEADER_KEY.match(key)) is not None:
        kind, parts = "header", (_metadata_key(m.group(1), f"{path}.key"),)
    elif (m := _CLAIM_KEY.match(key)) is not None:
        kind, parts = "claim", tuple(m.group(1)[1:-1].split("]["))
    else:
        raise ConfigError(
            f"{path}.key", f"expected request.headers[<name>] or request.auth.claims[<name>], got {key!r}"
        )
    if not msg.values and not msg.not_values:
        raise ConfigError(path, "values or not_values is required")
    values = _strings(msg.values, f"{path}.values", "value")
    not_values = _strings(msg.not_values, f"{path}.not_values", "value")
    return Condition(key, kind, parts, values, not_values)


def _method_globs(values: Iterable[str], path: str) -> tuple[str, ...]:
    out = _strings(values, path, "method")
    for i, glob in enumerate(out):
        if not glob.startswith(("/", "*")):
            raise ConfigError(f"{path}[{i}]", f"a method glob matches '/pkg.Service/Method', got {glob!r}")
    return out


def rule(msg: auth_policy_pb2.AuthorizationRule, path: str) -> AuthzRule:
    src, to = msg.source, msg.to
    spath, tpath = f"{path}.source", f"{path}.to"
    return AuthzRule(
        principals=_principal_globs(src.principals, f"{spath}.principals"),
        not_principals=_principal_globs(src.not_principals, f"{spath}.not_principals"),
        namespaces=_strings(src.namespaces, f"{spath}.namespaces", "namespace"),
        request_principals=_strings(src.request_principals, f"{spath}.request_principals", "request principal"),
        services=_strings(to.services, f"{tpath}.services", "service"),
        methods=_method_globs(to.methods, f"{tpath}.methods"),
        when=tuple(condition(c, f"{path}.when[{i}]") for i, c in enumerate(msg.when)),
    )


def authorization(
    msgs: Iterable[auth_policy_pb2.AuthorizationPolicy], path: str, known_routes: set[str]
) -> tuple[AuthzPolicy, ...]:
    out: list[AuthzPolicy] = []
    for i, msg in enumerate(msgs):
        ppath = f"{path}[{i}]"
        name = required_name(msg.name, f"{ppath}.name", "policy name")
        if any(p.name == name for p in out):
            raise ConfigError(f"{ppath}.name", f"duplicate authorization policy name {name!r}")
        _selectors(msg.listeners, msg.routes, ppath, known_routes)
        deny = msg.action == auth_policy_pb2.AuthorizationPolicy.DENY
        if deny and not msg.rules:
            raise ConfigError(f"{ppath}.rules", "a DENY policy needs at least one rule (it would deny nothing)")
        out.append(
            AuthzPolicy(
                name=name,
                action=Action.DENY if deny else Action.ALLOW,
                listeners=tuple(msg.listeners),
                routes=tuple(msg.routes),
                rules=tuple(rule(r, f"{ppath}.rules[{j}]") for j, r in enumerate(msg.rules)),
                dry_run=msg.dry_run,
            )
        )
    return tuple(out)
