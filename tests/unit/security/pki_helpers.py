"""A small mesh PKI for tests: a CA, workload material for any identity, odd certificates on purpose."""

from __future__ import annotations

from apex.mesh.security.pki import Validity, cert_pem, csr_for, issue, key_pem, new_key
from apex.mesh.security.spiffe import SpiffeId

from engines.security.ca import MeshCA
from sidecar.security.credentials import Credentials, IssuedSource
from sidecar.security.material import TlsMaterial

TD = "cluster.local"


def ident(service: str, namespace: str = "default", trust_domain: str = TD) -> SpiffeId:
    return SpiffeId(trust_domain, namespace, service)


def issued(ca: MeshCA, service: str, now: float, namespace: str = "default") -> TlsMaterial:
    """Material the way a sidecar gets it: key made locally, CSR signed by the CA."""
    source = IssuedSource(ident(service, namespace, ca.trust_domain), Credentials())
    answer = ca.sign(source.request(), source.identity, now)
    return source.issued(answer.chain_pem, answer.bundle_pem)


def odd(ca: MeshCA, service: str, not_before: float, not_after: float) -> TlsMaterial:
    """A certificate from `ca` with a chosen validity (expired, not yet valid)."""
    key = new_key()
    identity = ident(service, trust_domain=ca.trust_domain)
    cert = issue(csr_for(key, identity), identity, ca.signer.cert, ca.signer.key, Validity(not_before, not_after))
    return TlsMaterial(cert_pem(cert), key_pem(key), ca.bundle_pem(), identity, not_before, not_after)
