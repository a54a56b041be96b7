"""Keys, CSRs and certificates with the `cryptography` library: pure functions, `now` passed in."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from apex.mesh.security.spiffe import SpiffeError, SpiffeId, identity_server_name, mesh_server_name

PrivateKey = ec.EllipticCurvePrivateKey


class CertificateError(ValueError):
    """A certificate, key or CSR is unusable; the message says why."""


def utc(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def new_key() -> PrivateKey:
    """A fresh P-256 key (fast handshakes; what Istio and SPIRE issue by default)."""
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_key(pem: bytes) -> PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertificateError("the private key must be an EC key")
    return key


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def load_certs(pem: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle (CertificateError when there is none)."""
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise CertificateError(f"not a PEM certificate bundle: {exc}") from exc
    return certs


def csr_for(key: PrivateKey, identity: SpiffeId) -> bytes:
    """A CSR naming `identity` in its URI SAN, signed by `key` (proof the requester holds it)."""
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, identity.trust_domain)]))
        .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(str(identity))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM)


def key_fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 (hex) of the certificate's public key (SubjectPublicKeyInfo, DER): what binds a
    registration to the key behind a certificate, across renewals of that certificate."""
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def workload_dns_names(identity: SpiffeId) -> tuple[str, ...]:
    """The DNS SANs of a workload certificate: `mesh.<td>` (any workload of the trust domain) and,
    when it maps to one, the name of exactly this identity (spiffe.identity_server_name)."""
    exact = identity_server_name(identity)
    return (mesh_server_name(identity.trust_domain), *((exact,) if exact else ()))


def identity_of(cert: x509.Certificate) -> SpiffeId | None:
    """The SPIFFE ID in a certificate's URI SAN, or None when it has none (or a malformed one)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for uri in san.get_values_for_type(x509.UniformResourceIdentifier):
        try:
            return SpiffeId.parse(uri)
        except SpiffeError:
            continue
    return None


def new_root(
    trust_domain: str, now: float, lifetime: float, key: PrivateKey | None = None
) -> tuple[x509.Certificate, PrivateKey]:
    """A self-signed CA certificate for `trust_domain`, valid from `now` for `lifetime` seconds."""
    key = key or new_key()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, trust_domain),
            x509.NameAttribute(NameOID.COMMON_NAME, f"apex mesh CA {int(now)}"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(utc(now - 60))
        .not_valid_after(utc(now + lifetime))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # keyCertSign, cRLSign
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.NameConstraints(
                permitted_subtrees=[
                    x509.UniformResourceIdentifier(trust_domain),
                    x509.DNSName(mesh_server_name(trust_domain)),
                ],
                excluded_subtrees=None,
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return cert, key


@dataclass(frozen=True, slots=True)
class Validity:
    not_before: float
    not_after: float


def issue(
    csr_pem: bytes,
    identity: SpiffeId,
    issuer: x509.Certificate,
    issuer_key: PrivateKey,
    validity: Validity,
    dns_names: tuple[str, ...] = (),
) -> x509.Certificate:
    """A workload certificate for `identity` over the CSR's public key.

    The identity is the one the caller decided (the CA's authenticated view of the requester),
    never the one the CSR asks for: a CSR naming another identity is refused. Its DNS SANs are
    `workload_dns_names` unless `dns_names` says otherwise (the control plane's own certificate).
    """
    try:
        csr = x509.load_pem_x509_csr(csr_pem)
    except ValueError as exc:
        raise CertificateError(f"not a PEM certificate signing request: {exc}") from exc
    if not csr.is_signature_valid:
        raise CertificateError("the CSR's signature does not verify")
    asked = None
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = san.get_values_for_type(x509.UniformResourceIdentifier)
        asked = uris[0] if uris else None
    except x509.ExtensionNotFound:
        pass
    if asked is not None and asked != str(identity):
        raise CertificateError(f"the CSR asks for {asked}, but the requester is {identity}")
    public_key = csr.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise CertificateError("the CSR's key must be an EC key")
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, identity.trust_domain)]))
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(utc(validity.not_before))
        .not_valid_after(utc(validity.not_after))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
        )  # digitalSignature, keyEncipherment
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.UniformResourceIdentifier(str(identity)),
                    *(x509.DNSName(name) for name in dns_names or workload_dns_names(identity)),
                ]
            ),
            critical=True,
        )
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )
