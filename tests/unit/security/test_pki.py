"""The mesh CA and workload material: issuance for the authenticated identity only, rotation, file reload."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from apex.mesh.security.pki import CertificateError, load_certs
from apex.mesh.security.spiffe import SpiffeError, SpiffeId, mesh_server_name
from cryptography import x509

from engines.security.ca import MeshCA
from sidecar.security.credentials import CertificateFiles, Credentials, FileSource, IssuedSource
from sidecar.security.material import TlsMaterial
from sidecar.security.peer import MtlsMode, PeerCheck, Reject
from tests.unit.security.pki_helpers import TD, ident, issued

NOW = 1_800_000_000.0


def test_spiffe_ids_parse_and_print_and_bad_ones_say_why() -> None:
    sid = SpiffeId.parse("spiffe://cluster.local/ns/shop/sa/catalog")
    assert (sid.trust_domain, sid.namespace, sid.service) == ("cluster.local", "shop", "catalog")
    assert str(sid) == "spiffe://cluster.local/ns/shop/sa/catalog"
    with pytest.raises(SpiffeError, match="must start with spiffe://"):
        SpiffeId.parse("https://cluster.local/ns/a/sa/b")
    with pytest.raises(SpiffeError, match="/ns/<namespace>/sa/<service>"):
        SpiffeId.parse("spiffe://cluster.local/sa/b")
    with pytest.raises(SpiffeError, match="service"):
        SpiffeId("cluster.local", "default", "Bad Name")


def test_the_ca_issues_a_24h_certificate_naming_the_identity_with_the_mesh_dns_name() -> None:
    ca = MeshCA.create(TD, NOW)
    material = issued(ca, "echo", NOW)
    assert material.identity == ident("echo")
    assert material.not_after - NOW == pytest.approx(86400)
    assert material.renew_at() < material.not_after
    leaf = load_certs(material.chain_pem)[0]
    dns = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    # Any workload of the trust domain, and exactly this one (what a cluster's mtls_server_identity asks for).
    assert dns == [mesh_server_name(TD), "echo.default.mesh.cluster.local"]
    assert b"PRIVATE" not in str(material.redacted()).encode()
    dotted = load_certs(issued(ca, "cat.v2", NOW).chain_pem)[0]  # no DNS label: the trust-domain name only
    assert dotted.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    ) == [mesh_server_name(TD)]


def test_a_csr_asking_for_another_identity_is_refused() -> None:
    ca = MeshCA.create(TD, NOW)
    thief = IssuedSource(ident("payments"), Credentials())
    with pytest.raises(CertificateError, match=r"asks for spiffe://cluster\.local/ns/default/sa/payments"):
        ca.sign(thief.request(), ident("echo"), NOW)  # authenticated as echo, asks for payments


def test_a_certificate_for_another_key_is_not_put_in_force() -> None:
    ca = MeshCA.create(TD, NOW)
    source = IssuedSource(ident("echo"), Credentials())
    source.request()
    other = IssuedSource(ident("echo"), Credentials())
    answer = ca.sign(other.request(), ident("echo"), NOW)
    with pytest.raises(CertificateError, match="does not match"):
        source.issued(answer.chain_pem, answer.bundle_pem)
    assert source.credentials.current() is None


def test_rotation_trusts_old_and_new_roots_until_retired() -> None:
    ca = MeshCA.create(TD, NOW)
    old_root = ca.signer.cert
    ca.rotate(NOW + 10)
    assert ca.signer.cert != old_root
    assert len(load_certs(ca.bundle_pem())) == 2
    material = issued(ca, "echo", NOW + 10)
    assert load_certs(material.chain_pem)[0].issuer == ca.signer.cert.subject
    ca.retire()
    assert load_certs(ca.bundle_pem()) == [ca.signer.cert]


def test_the_ca_survives_a_restart_with_its_keys_private(tmp_path: Path) -> None:
    ca = MeshCA.create(TD, NOW)
    ca.rotate(NOW + 1)
    ca.save(str(tmp_path / "ca"))
    assert os.stat(tmp_path / "ca" / "keys.pem").st_mode & 0o077 == 0
    again = MeshCA.load(str(tmp_path / "ca"), TD)
    assert again.bundle_pem() == ca.bundle_pem()
    issued(again, "echo", NOW + 2)


def test_renewal_is_due_from_half_the_lifetime() -> None:
    ca = MeshCA.create(TD, NOW)
    source = IssuedSource(ident("echo"), Credentials())
    assert source.due(NOW)
    answer = ca.sign(source.request(), source.identity, NOW)
    source.issued(answer.chain_pem, answer.bundle_pem)
    assert not source.due(NOW + 3600)
    assert source.due(NOW + 12 * 3600)


def test_file_certificates_reload_when_they_change_and_a_half_written_set_is_ignored(tmp_path: Path) -> None:
    ca = MeshCA.create(TD, time.time())
    first, second = issued(ca, "echo", time.time()), issued(ca, "echo", time.time())
    files = CertificateFiles(str(tmp_path / "tls.crt"), str(tmp_path / "tls.key"), str(tmp_path / "ca.crt"))

    def write(material: TlsMaterial, key: bool = True) -> None:
        Path(files.certificate).write_bytes(material.chain_pem)
        if key:
            Path(files.private_key).write_bytes(material.key_pem)
        Path(files.trust_bundle).write_bytes(material.bundle_pem)

    credentials = Credentials()
    source = FileSource(files, credentials)
    write(first)
    assert source.poll() and credentials.generation == 1
    assert not source.poll()  # unchanged
    write(second, key=False)  # cert-manager wrote the certificate, not yet the key
    os.utime(files.certificate, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert not source.poll() and "does not match" in source.last_error
    current = credentials.current()
    assert current is not None and current.chain_pem == first.chain_pem
    write(second)
    os.utime(files.private_key, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
    assert source.poll()
    current = credentials.current()
    assert current is not None and current.chain_pem == second.chain_pem and current.generation == 2


def test_peer_check_counts_each_rejection_reason() -> None:
    check = PeerCheck(MtlsMode.STRICT, TD, allowed=("spiffe://cluster.local/ns/shop/*",))
    assert check.verdict(["spiffe://cluster.local/ns/shop/sa/caller"]).principal.endswith("/sa/caller")
    assert check.verdict([]).reject is Reject.NO_CLIENT_CERTIFICATE
    assert check.verdict(["urn:x"]).reject is Reject.NO_IDENTITY
    assert check.verdict(["spiffe://evil.org/ns/shop/sa/caller"]).reject is Reject.WRONG_TRUST_DOMAIN
    assert check.verdict(["spiffe://cluster.local/ns/other/sa/caller"]).reject is Reject.NOT_ALLOWED
    assert dict(check.rejected) == {
        "no_client_certificate": 1,
        "no_identity": 1,
        "wrong_trust_domain": 1,
        "not_allowed": 1,
    }
    permissive = PeerCheck(MtlsMode.PERMISSIVE, TD)
    assert permissive.verdict([]).reject is None
