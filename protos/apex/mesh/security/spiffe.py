"""SPIFFE IDs for workloads: spiffe://<trust-domain>/ns/<namespace>/sa/<service>."""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_TRUST_DOMAIN = "cluster.local"
DEFAULT_NAMESPACE = "default"

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$")


class SpiffeError(ValueError):
    """A SPIFFE ID or one of its parts is malformed."""


def _check(part: str, what: str) -> str:
    if not _LABEL.match(part):
        raise SpiffeError(f"{what} {part!r} must be lower-case letters, digits, '.', '_' or '-' (1-63 chars)")
    return part


@dataclass(frozen=True, slots=True)
class SpiffeId:
    """A workload's identity; `str()` is the URI put in its certificate's URI SAN."""

    trust_domain: str
    namespace: str
    service: str

    def __post_init__(self) -> None:
        _check(self.trust_domain, "trust domain")
        _check(self.namespace, "namespace")
        _check(self.service, "service")

    def __str__(self) -> str:
        return f"spiffe://{self.trust_domain}/ns/{self.namespace}/sa/{self.service}"

    @property
    def uri(self) -> str:
        return str(self)

    @classmethod
    def parse(cls, uri: str) -> SpiffeId:
        """Parse `spiffe://td/ns/<ns>/sa/<service>`; SpiffeError names what is wrong."""
        prefix = "spiffe://"
        if not uri.startswith(prefix):
            raise SpiffeError(f"{uri!r} is not a SPIFFE ID (must start with {prefix})")
        domain, _, path = uri[len(prefix) :].partition("/")
        parts = path.split("/")
        if len(parts) != 4 or parts[0] != "ns" or parts[2] != "sa":
            raise SpiffeError(f"{uri!r}: the path must be /ns/<namespace>/sa/<service>")
        return cls(domain, parts[1], parts[3])


def mesh_server_name(trust_domain: str) -> str:
    """The DNS SAN every certificate the mesh CA issues carries: grpc checks a server's
    certificate against a host name, so a client asks for this one to mean "any workload of
    this trust domain" (Istio's ISTIO_MUTUAL without subjectAltNames); the exact SPIFFE ID is
    then checked from the URI SAN where the transport exposes it."""
    return f"mesh.{_check(trust_domain, 'trust domain')}"


_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def identity_server_name(identity: SpiffeId) -> str | None:
    """The DNS SAN naming exactly this workload (`<service>.<namespace>.mesh.<td>`), which the mesh CA
    adds to its certificate so a grpc client (which can check only a host name) can require one
    upstream identity; None when the service or namespace is no DNS label (it holds '.' or '_')."""
    if not (_DNS_LABEL.match(identity.service) and _DNS_LABEL.match(identity.namespace)):
        return None
    return f"{identity.service}.{identity.namespace}.{mesh_server_name(identity.trust_domain)}"


CONTROL_PLANE_NAMESPACE = "apex-system"
CONTROL_PLANE_SERVICE = "control-plane"


def control_plane_id(trust_domain: str) -> SpiffeId:
    """The control plane's own identity, in the certificate of its mTLS port."""
    return SpiffeId(trust_domain, CONTROL_PLANE_NAMESPACE, CONTROL_PLANE_SERVICE)


def control_plane_server_name(trust_domain: str) -> str:
    """The DNS SAN only the control plane's certificate carries (`control-plane.mesh.<td>`): a
    sidecar connecting to the control plane's mTLS port asks for it, so a workload certificate
    (which carries `mesh.<td>` only) cannot stand in for the control plane. The CA's name
    constraint (`mesh.<td>` and its subdomains) permits it."""
    return f"{CONTROL_PLANE_SERVICE}.{mesh_server_name(trust_domain)}"
