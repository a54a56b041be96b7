"""The control plane's mTLS port, decisions only: the principal a client certificate names, the
control plane's own certificate (and that no workload certificate can pass for it), its renewal."""

from __future__ import annotations

import os
import ssl
import tempfile
import time

import pytest
from apex.mesh.security.pki import identity_of, key_fingerprint, load_certs
from apex.mesh.security.spiffe import control_plane_id, control_plane_server_name

from engines.control.authn import Principal
from engines.control.mtls import Refusal, certificate_principal
from engines.security.ca import MeshCA
from tests.unit.security.pki_helpers import TD, issued

NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def ca() -> MeshCA:
    return MeshCA.create(TD, NOW, workload_ttl=3600)


def test_a_certificate_names_the_sidecar_of_its_service(ca: MeshCA) -> None:
    material = issued(ca, "echo", NOW)
    principal = certificate_principal(material.chain_pem, TD, "default")
    leaf = load_certs(material.chain_pem)[0]
    assert principal == Principal("sidecar", "echo", "spiffe://cluster.local/ns/default/sa/echo", key_fingerprint(leaf))
    assert str(principal) == "spiffe://cluster.local/ns/default/sa/echo"


def test_certificates_that_are_no_sidecar_of_this_control_plane_are_refused(ca: MeshCA) -> None:
    assert certificate_principal(b"", TD, "default") == Refusal(
        "UNAUTHENTICATED", "apex: the mTLS port requires a client certificate"
    )
    garbage = certificate_principal(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", TD, "default")
    assert isinstance(garbage, Refusal) and garbage.code == "UNAUTHENTICATED"
    other_namespace = certificate_principal(issued(ca, "echo", NOW, namespace="shop").chain_pem, TD, "default")
    assert isinstance(other_namespace, Refusal) and other_namespace.code == "PERMISSION_DENIED"
    assert "spiffe://cluster.local/ns/shop/sa/echo is not a workload of this control plane" in other_namespace.message


def test_the_ca_never_signs_a_csr_for_the_control_planes_identity(ca: MeshCA) -> None:
    with pytest.raises(ValueError, match="the control plane's own identity"):
        ca.sign(b"unused", control_plane_id(TD), NOW)


def _handshake(server: ssl.SSLContext, client: ssl.SSLContext, name: str) -> None:
    """A TLS handshake between two in-memory ends (no sockets); raises ssl.SSLError when it fails."""
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    c = client.wrap_bio(c_in, c_out, server_hostname=name)
    s = server.wrap_bio(s_in, s_out, server_side=True)
    done = {"c": False, "s": False}
    for _ in range(20):
        for end, key, out, peer_in in ((c, "c", c_out, s_in), (s, "s", s_out, c_in)):
            if not done[key]:
                try:
                    end.do_handshake()
                    done[key] = True
                except ssl.SSLWantReadError:
                    pass
            peer_in.write(out.read())
        if all(done.values()):
            return
    raise AssertionError("the handshake did not finish")


def _context(chain: bytes, key: bytes, bundle: bytes, server: bool) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=bundle.decode())
    with tempfile.TemporaryDirectory() as tmp:
        paths = [os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")]
        for path, data in zip(paths, (chain, key), strict=True):
            with open(path, "wb") as f:
                f.write(data)
        ctx.load_cert_chain(*paths)
    return ctx


def test_only_the_control_planes_certificate_answers_to_its_server_name() -> None:
    now = time.time()  # ssl checks validity against the real clock
    ca = MeshCA.create(TD, now, workload_ttl=3600)
    serving = ca.serving(now)
    assert identity_of(load_certs(serving.chain_pem)[0]) == control_plane_id(TD)
    name = control_plane_server_name(TD)
    assert name == "control-plane.mesh.cluster.local"
    workload = issued(ca, "echo", now)
    client = _context(workload.chain_pem, workload.key_pem, ca.bundle_pem(), server=False)
    _handshake(_context(serving.chain_pem, serving.key_pem, serving.bundle_pem, server=True), client, name)
    # Any workload certificate (here one for a service named control-plane) carries mesh.<td> only.
    impostor = issued(ca, "control-plane", now)
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        _handshake(_context(impostor.chain_pem, impostor.key_pem, ca.bundle_pem(), server=True), client, name)


def test_the_serving_certificate_is_reissued_at_half_life_and_after_a_rotation(ca: MeshCA) -> None:
    serving = ca.serving(NOW)
    assert (serving.not_before, serving.not_after) == (NOW - 60, NOW + 3600)
    assert not serving.due(NOW + 1769, ca.bundle_pem())
    assert serving.due(NOW + 1770, ca.bundle_pem())
    rotated = MeshCA(TD, list(ca.roots), ca.workload_ttl)
    rotated.rotate(NOW)
    assert serving.due(NOW + 1, rotated.bundle_pem())  # new roots: client certificates verify against them
    renewed = rotated.serving(NOW + 1)
    assert renewed.bundle_pem == rotated.bundle_pem() and not renewed.due(NOW + 2, rotated.bundle_pem())
