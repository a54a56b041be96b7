"""One mesh CA for every control-plane replica (`--ca-store`): created once, sealed in Redis, shared.

Two real control-plane processes on one Redis, started at the same moment: one creates the CA, the
other loads it; a certificate from replica A passes replica B's mTLS port; a rotation on A reaches
B's sidecars and a retirement on B reaches A's; a wrong at-rest key is refused at start; Redis holds
nothing of the CA in clear.
"""

from __future__ import annotations

import asyncio
import base64
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import redis
from apex.mesh.bus.connect import connect
from apex.mesh.security.pki import csr_for, key_pem, load_certs, new_key
from apex.mesh.security.sealed import Sealer
from apex.mesh.security.spiffe import SpiffeId, control_plane_server_name
from apex.mesh.v1 import control_pb2, control_pb2_grpc
from cryptography.hazmat.primitives import hashes, serialization

from engines.control.ca_sync import CaSync
from engines.security.ca import MeshCA
from engines.security.ca_store import CaStore, SharedCa
from sidecar.cli import main as apex
from tests.support.control_plane_proc import ControlPlaneProcess

pytestmark = pytest.mark.integration

KEY = base64.b64encode(bytes(range(32))).decode()  # fixed test keys: nothing random in the set-up
WRONG_KEY = base64.b64encode(bytes([0x55] * 32)).decode()
ECHO_TOKEN = "join-echo-0123456789abcdef"
ALICE_TOKEN = "alice-0123456789abcdef0123"
ECHO = SpiffeId("cluster.local", "default", "echo")


def _bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def _csr() -> tuple[bytes, control_pb2.SidecarMessage]:
    key = new_key()
    request = control_pb2.CertificateRequest(csr=csr_for(key, ECHO))
    return key_pem(key), control_pb2.SidecarMessage(certificate_request=request)


class Stream:
    """A sidecar's control stream on one replica (join token): its hello and CSR, then every message."""

    def __init__(self, address: str, instance: str) -> None:
        self.key, csr = _csr()
        hello = control_pb2.Hello(service="echo", instance=instance, inbound_address="127.0.0.1:9")
        self._done = threading.Event()
        self.got: queue.Queue[control_pb2.ControlMessage] = queue.Queue()
        self._channel = grpc.insecure_channel(address)

        def requests() -> Iterator[control_pb2.SidecarMessage]:
            yield control_pb2.SidecarMessage(hello=hello)
            yield csr
            self._done.wait()

        self._call = control_pb2_grpc.ControlPlaneStub(self._channel).Stream(requests(), metadata=_bearer(ECHO_TOKEN))
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for message in self._call:
                self.got.put(message)
        except grpc.RpcError:
            pass

    def next(self, kind: str, timeout: float = 10.0) -> control_pb2.ControlMessage:
        """The next message of `kind` (others are skipped)."""
        while True:
            message = self.got.get(timeout=timeout)
            if message.WhichOneof("kind") == kind:
                return message

    def close(self) -> None:
        self._done.set()
        self._call.cancel()
        self._channel.close()
        self._thread.join(5)


def _roots(bundle: bytes) -> list[str]:
    return [cert.fingerprint(hashes.SHA256()).hex() for cert in load_certs(bundle)]


def _mtls_hello(address: str, chain: bytes, key: bytes, bundle: bytes, instance: str) -> grpc.StatusCode:
    """A stream on a replica's mTLS port presenting `chain`: OK while it stays open (the handshake passed)."""
    creds = grpc.ssl_channel_credentials(bundle, key, chain)
    options = (("grpc.ssl_target_name_override", control_plane_server_name("cluster.local")),)
    hello = control_pb2.Hello(service="echo", instance=instance, inbound_address="127.0.0.1:9")
    with grpc.secure_channel(address, creds, options=options) as channel:
        call = control_pb2_grpc.ControlPlaneStub(channel).Stream(
            iter([control_pb2.SidecarMessage(hello=hello)]), timeout=1.5
        )
        try:
            for _ in call:
                pass
        except grpc.RpcError as exc:
            return grpc.StatusCode.OK if exc.code() is grpc.StatusCode.DEADLINE_EXCEEDED else exc.code()
        return grpc.StatusCode.OK


def _ca_call(address: str, action: str) -> control_pb2.CaStatus:
    with grpc.insecure_channel(address) as channel:
        stub = control_pb2_grpc.CertificateAuthorityStub(channel)
        status: control_pb2.CaStatus = getattr(stub, action)(
            control_pb2.CaRequest(), timeout=10, metadata=_bearer(ALICE_TOKEN)
        )
        return status


def _everything_under(url: str, prefix: str) -> bytes:
    """Every key and value Redis holds under `prefix`, as one blob to grep."""
    client = redis.Redis.from_url(url)
    blob = b""
    for key in client.scan_iter(match=f"{prefix}*"):
        kind = client.type(key)
        blob += key
        if kind == b"hash":
            blob += b"".join(k + v for k, v in client.hgetall(key).items())
        elif kind == b"string":
            blob += client.get(key) or b""
        elif kind == b"set":
            blob += b"".join(client.smembers(key))
    return blob


def test_two_replicas_share_one_ca_and_its_rotations(
    tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APEX_JOIN_ECHO", ECHO_TOKEN)
    monkeypatch.setenv("APEX_TOKEN_ALICE", ALICE_TOKEN)
    monkeypatch.setenv("APEX_CA_KEY", KEY)
    monkeypatch.setenv("APEX_WRONG_KEY", WRONG_KEY)
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text("sidecars:\n  echo: {env: APEX_JOIN_ECHO}\noperators:\n  alice@corp: {env: APEX_TOKEN_ALICE}\n")
    prefix = f"apex:test:sharedca-{tmp_path.name[-8:]}:"
    args = ["--auth", str(tokens), "--ca-store", "--secret-key", "env:APEX_CA_KEY"]
    a = ControlPlaneProcess(redis_url, prefix=prefix, args=args)
    b = ControlPlaneProcess(redis_url, prefix=prefix, args=args)
    # Both replicas start at the same moment on an empty store: exactly one creates the CA.
    starters = [threading.Thread(target=cp.start) for cp in (a, b)]
    for thread in starters:
        thread.start()
    for thread in starters:
        thread.join(60)
    streams: list[Stream] = []
    try:
        assert a.address and b.address, a.log() + b.log()
        logs = a.log() + b.log()
        assert logs.count("created in Redis") == 1 and logs.count("loaded from Redis") == 1, logs
        # A certificate from replica A passes replica B's mTLS port: one root.
        on_a, on_b = Stream(a.address, "echo-a"), Stream(b.address, "echo-b")
        streams += [on_a, on_b]
        from_a, from_b = on_a.next("certificate").certificate, on_b.next("certificate").certificate
        assert not from_a.error and not from_b.error
        assert from_a.trust_bundle == from_b.trust_bundle and len(_roots(from_a.trust_bundle)) == 1
        b_mtls = f"127.0.0.1{from_b.mtls_address}"
        assert (
            _mtls_hello(b_mtls, from_a.certificate_chain, on_a.key, from_b.trust_bundle, "echo-m1")
            is grpc.StatusCode.OK
        )
        # Rotate on A: B's sidecar gets the new bundle (the new signing root first, the old one still trusted).
        rotated = _ca_call(a.address, "Rotate")
        new_root, old_root = (r.fingerprint_sha256 for r in rotated.roots)
        assert _roots(on_b.next("trust_bundle").trust_bundle.roots) == [new_root, old_root]
        assert [r.fingerprint_sha256 for r in _ca_call(b.address, "Status").roots] == [new_root, old_root]
        # Retire on B: A's sidecar is told; only the new root is trusted, and B signs with it.
        _ca_call(b.address, "Retire")
        # A replica with the wrong at-rest key refuses to start, naming the problem, never a key (run meanwhile).
        wrong = subprocess.Popen(
            [sys.executable, "-m", "sidecar", "control-plane", "--listen", "127.0.0.1:0", "--redis", redis_url,
             "--prefix", prefix, "--auth", str(tokens), "--ca-store", "--secret-key", "env:APEX_WRONG_KEY"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        bundles = [on_a.next("trust_bundle").trust_bundle.roots for _ in range(2)]  # rotate, retire
        assert [_roots(bundle) for bundle in bundles] == [[new_root, old_root], [new_root]]
        # A certificate from the old root no longer passes B's mTLS port; one B issues now does.
        renewed = Stream(b.address, "echo-c")
        streams.append(renewed)
        new_cert = renewed.next("certificate").certificate
        assert _roots(new_cert.trust_bundle) == [new_root]
        assert (
            _mtls_hello(b_mtls, from_a.certificate_chain, on_a.key, bundles[1], "echo-m2")
            is grpc.StatusCode.UNAVAILABLE
        )
        assert _mtls_hello(b_mtls, new_cert.certificate_chain, renewed.key, bundles[1], "echo-m3") is grpc.StatusCode.OK
        # Redis holds nothing of the CA in clear: no PEM key, no private scalar, no certificate.
        sealer = Sealer.from_ref("env:APEX_CA_KEY")
        store = CaStore(None, prefix, f"{prefix}changes", SharedCa("cluster.local", sealer))  # type: ignore[arg-type]
        raw = _everything_under(redis_url, prefix)
        sealed = redis.Redis.from_url(redis_url).hget(f"{prefix}ca", "sealed") or b""
        plain = sealer.open(sealed, store._aad(3))  # version 3: created, rotated, retired
        assert b"PRIVATE KEY" in plain and b"PRIVATE KEY" not in raw and b"BEGIN" not in raw
        key = serialization.load_pem_private_key(plain[plain.index(b"-----BEGIN PRIVATE KEY") :], None)
        scalar = key.private_numbers().private_value.to_bytes(32, "big")  # type: ignore[union-attr]
        assert scalar not in raw and base64.b64encode(scalar) not in raw and scalar.hex().encode() not in raw
        out, err = wrong.communicate(timeout=60)
        assert wrong.returncode == 2, err
        assert f"the mesh CA in Redis ({prefix}ca) version 3: cannot open: wrong at-rest key" in err
        assert WRONG_KEY not in err + out and KEY not in err + out
        assert KEY not in a.log() + b.log()
    finally:
        for stream in streams:
            stream.close()
        a.close()
        b.close()


def test_ca_store_needs_an_at_rest_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text("sidecars: {}\n")
    assert apex(["control-plane", "--auth", str(tokens), "--ca-store", "--secret-key", ""]) == 2
    err = capsys.readouterr().err
    assert "--ca-store needs --secret-key" in err and "never stored in Redis unsealed" in err


def test_concurrent_changes_all_land_and_replicas_adopt_them(redis_url: str) -> None:
    """Eight replicas creating at once end with one CA; rotations racing on two replicas all land
    (compare-and-set, re-applied on the newer CA); the other replica adopts the result; a record lost
    with a Redis restart is written back by a replica and the others follow."""
    prefix = "apex:test:sharedca-race:"
    redis.Redis.from_url(redis_url).delete(f"{prefix}ca")
    shared = SharedCa("cluster.local", Sealer(bytes(range(32))))

    async def scenario() -> tuple[int, set[str], list[str], list[str], tuple[bool, int], tuple[bool, int, bool, bool]]:
        clients = [connect(redis_url) for _ in range(8)]
        stores = [CaStore(c, prefix, f"{prefix}changes", shared) for c in clients]
        try:
            started = await asyncio.gather(*(s.load_or_create(float(i)) for i, s in enumerate(stores)))
            created = sum(1 for _, _, was_created in started if was_created)
            signers = {ca.bundle_pem().decode() for ca, _, _ in started}
            told: list[str] = []
            syncs = [
                CaSync(stores[i], started[i][0], started[i][1], lambda i=i: told.append(f"r{i}")) for i in (0, 1, 2)
            ]
            await asyncio.gather(*(syncs[i % 2].update(lambda ca, i=i: ca.rotate(100.0 + i)) for i in range(4)))
            adopted = (await syncs[2].check(), syncs[2].version)
            result = _roots(syncs[2].ca.bundle_pem())
            # Redis restarted without persistence: the record is gone; the next check writes it back.
            await clients[0].delete(stores[0].key)
            restored = await syncs[2].check()
            back = await stores[0].read()
            same = back is not None and back[0].bundle_pem() == syncs[2].ca.bundle_pem()
            followed = await syncs[0].check()  # version 1 again: adopted (the same roots)
            after = (restored, back[1] if back else 0, same, followed)
            return created, signers, told, result, adopted, after
        finally:
            for client in clients:
                await client.aclose()

    created, signers, told, roots, adopted, after = asyncio.run(scenario())
    assert created == 1 and len(signers) == 1
    assert len(roots) == 5 and adopted == (True, 5)  # four rotations on version 1, adopted by the third replica
    assert sorted(told) == ["r0", "r0", "r0", "r1", "r1", "r2"]
    assert after == (False, 1, True, True)


def test_a_ca_dir_ca_moves_into_an_empty_store(tmp_path: Path, redis_url: str) -> None:
    """`--ca-store --ca-dir DIR`: the directory's CA (sealed there) becomes the shared one when the
    store holds none; once stored, the store wins over the directory."""
    prefix = "apex:test:sharedca-seed:"
    redis.Redis.from_url(redis_url).delete(f"{prefix}ca")
    sealer = Sealer(bytes(range(32)))
    old = MeshCA.create("cluster.local", 0.0)
    old.sealer = sealer
    old.save(str(tmp_path / "ca"))
    seed = MeshCA.load(str(tmp_path / "ca"), "cluster.local", sealer=sealer)
    other = MeshCA.create("cluster.local", 0.0)

    async def scenario() -> list[tuple[bytes, int, bool]]:
        client = connect(redis_url)
        try:
            out = []
            for ca in (seed, other):  # the second replica's directory holds another CA: the store wins
                store = CaStore(client, prefix, f"{prefix}changes", SharedCa("cluster.local", sealer, seed=ca))
                found, version, created = await store.load_or_create(1.0)
                out.append((found.bundle_pem(), version, created))
            return out
        finally:
            await client.aclose()

    assert asyncio.run(scenario()) == [(old.bundle_pem(), 1, True), (old.bundle_pem(), 1, False)]
