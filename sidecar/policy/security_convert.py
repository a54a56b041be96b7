"""Validated conversion of the security fields: listener mTLS modes, allowed principals, the workload identity."""

from __future__ import annotations

from apex.mesh.security.spiffe import (
    DEFAULT_NAMESPACE,
    DEFAULT_TRUST_DOMAIN,
    SpiffeError,
    SpiffeId,
    identity_server_name,
)
from apex.mesh.v1 import config_pb2

from sidecar.policy.address import Address
from sidecar.policy.errors import ConfigError
from sidecar.policy.security_model import DEFAULT_CERTIFICATE_TTL, DEFAULT_POLL, AdminAccess, FilePaths, Security
from sidecar.security.peer import MtlsMode

MODES = {"": MtlsMode.DISABLE, **{mode.value: mode for mode in MtlsMode}}


def mtls_mode(value: str, path: str) -> MtlsMode:
    mode = MODES.get(value.lower())
    if mode is None:
        raise ConfigError(f"{path}.mtls", f"unknown mTLS mode {value!r} (one of: disable, permissive, strict)")
    return mode


def server_identity(msg: config_pb2.Cluster, transport: str, path: str) -> str:
    """A cluster's expected upstream SPIFFE ID (`mtls_server_identity`), checked: it needs `mtls`, and on the
    grpc transport (which checks a host name only) an identity the CA gives a DNS SAN of its own."""
    value = msg.mtls_server_identity
    if not value:
        return ""
    field = f"{path}.mtls_server_identity"
    if not msg.mtls:
        raise ConfigError(field, "an expected server identity needs `mtls: true`")
    try:
        identity = SpiffeId.parse(value)
    except SpiffeError as exc:
        raise ConfigError(field, str(exc)) from None
    if transport == "grpc" and identity_server_name(identity) is None:
        raise ConfigError(
            field,
            f"{value}: the grpc transport checks a DNS name, and a service or namespace with '.' or '_' has "
            "none; use transport h2 (which checks the SPIFFE ID itself)",
        )
    return str(identity)


def principals(globs: list[str] | tuple[str, ...], path: str) -> tuple[str, ...]:
    for i, glob in enumerate(globs):
        if not glob.startswith("spiffe://"):
            raise ConfigError(f"{path}.allowed_principals[{i}]", f"{glob!r} is not a SPIFFE ID glob (spiffe://...)")
    return tuple(globs)


def _seconds(msg: config_pb2.Security | config_pb2.CertificateFiles, name: str, default: float, path: str) -> float:
    if not msg.HasField(name):
        return default
    duration = getattr(msg, name)
    value = float(duration.seconds + duration.nanos / 1e9)
    if value <= 0:
        raise ConfigError(f"{path}.{name}", "must be positive")
    return value


def security(msg: config_pb2.Bootstrap, service: str) -> Security | None:
    """The workload identity; None when the bootstrap has no `security` section."""
    if not msg.HasField("security"):
        return None
    sec, path = msg.security, "security"
    try:
        identity = SpiffeId(sec.trust_domain or DEFAULT_TRUST_DOMAIN, sec.namespace or DEFAULT_NAMESPACE, service)
    except SpiffeError as exc:
        raise ConfigError(path, str(exc)) from exc
    files = None
    if sec.HasField("certificate_files"):
        f, fpath = sec.certificate_files, f"{path}.certificate_files"
        for name in ("certificate", "private_key", "trust_bundle"):
            if not getattr(f, name):
                raise ConfigError(f"{fpath}.{name}", "a path is required")
        files = FilePaths(
            f.certificate, f.private_key, f.trust_bundle, _seconds(f, "poll_interval", DEFAULT_POLL, fpath)
        )
    ttl = _seconds(sec, "certificate_ttl", DEFAULT_CERTIFICATE_TTL, path)
    token = secret_ref(sec.join_token, f"{path}.join_token") if sec.HasField("join_token") else None
    return Security(identity, files, ttl, token)


def secret_ref(ref: config_pb2.SecretRef, path: str) -> dict[str, str]:
    """A secret reference as `apex.mesh.security.secrets.resolve` takes it."""
    if bool(ref.env) == bool(ref.file):
        raise ConfigError(path, "a secret reference names exactly one of env or file")
    return {"env": ref.env} if ref.env else {"file": ref.file}


LOOPBACK_HOSTS = frozenset({"localhost", "::1"})


def is_loopback(address: Address) -> bool:
    return address.host in LOOPBACK_HOSTS or address.host.startswith("127.")


def admin_access(msg: config_pb2.Bootstrap, address: Address) -> AdminAccess:
    """Who may call the admin listener; a non-loopback address open to anyone is refused."""
    return listener_access(msg.admin, msg.HasField("security"), address, "admin")


def listener_access(
    part: config_pb2.AdminListener | config_pb2.MetricsConfig, has_security: bool, address: Address, path: str
) -> AdminAccess:
    """Who may call the admin or the metrics listener (`path`): a token and/or mTLS; a non-loopback
    address open to anyone is refused, naming `<path>.address`."""
    token = secret_ref(part.token, f"{path}.token") if part.HasField("token") else None
    mode = part.mtls.lower()
    if mode not in ("", "disable", "strict"):
        raise ConfigError(f"{path}.mtls", f"{path} mTLS is {part.mtls!r}: one of disable, strict")
    mtls = mode == "strict"
    if mtls and not has_security:
        raise ConfigError(f"{path}.mtls", f"{path} mTLS needs a `security` section (the sidecar's certificate)")
    if part.allowed_principals and not mtls:
        raise ConfigError(f"{path}.allowed_principals", "principals are checked under `mtls: strict` only")
    access = AdminAccess(token, mtls, principals(list(part.allowed_principals), path))
    if access.open and not is_loopback(address):
        raise ConfigError(
            f"{path}.address",
            f"the {path} listener binds {address} (not loopback) without authentication: set {path}.token "
            f"({{env: NAME}} or {{file: PATH}}) or {path}.mtls: strict, or bind 127.0.0.1",
        )
    return access
