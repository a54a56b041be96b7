"""The validated security model: the workload identity and where its certificate comes from."""

from __future__ import annotations

from dataclasses import dataclass

from apex.mesh.security.spiffe import SpiffeId

DEFAULT_CERTIFICATE_TTL = 86400.0
DEFAULT_POLL = 5.0


@dataclass(frozen=True, slots=True)
class FilePaths:
    certificate: str
    private_key: str
    trust_bundle: str
    poll_interval: float = DEFAULT_POLL


@dataclass(frozen=True, slots=True)
class AdminAccess:
    """Who may call the admin (or the metrics) listener: a bearer token (by reference) and/or mTLS with
    allowed principals."""

    token: dict[str, str] | None = None  # a secret reference ({env: NAME} / {file: PATH}), never the token
    mtls: bool = False
    allowed_principals: tuple[str, ...] = ()

    @property
    def open(self) -> bool:
        """Anyone who reaches the address may call (fine on loopback only)."""
        return self.token is None and not self.mtls


@dataclass(frozen=True, slots=True)
class Security:
    """Who this workload is (its SPIFFE ID) and where its certificate comes from."""

    identity: SpiffeId
    files: FilePaths | None = None  # None: the control plane's mesh CA
    certificate_ttl: float = DEFAULT_CERTIFICATE_TTL
    join_token: dict[str, str] | None = None  # a secret reference ({env: NAME} / {file: PATH}), never the token

    @property
    def trust_domain(self) -> str:
        return self.identity.trust_domain
