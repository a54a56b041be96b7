"""mTLS on both transports (grpc, h2) through a real listener: the rejection matrix with its statuses and
counters, permissive mode, handshake-failure counters on the connectors, and rotation under load."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import grpc
import pytest
from apex.mesh.security.spiffe import mesh_server_name

from engines.security.ca import MeshCA
from sidecar.core.call import CallDescriptor, Code, Status
from sidecar.core.service import BufferedResponse, Connector, Request, Response
from sidecar.core.transport import Listener, ListenerSpec, Switch
from sidecar.security.credentials import Credentials
from sidecar.security.material import TlsMaterial
from sidecar.security.peer import MtlsMode, PeerCheck
from sidecar.security.tls import ClientTls, ListenerTls
from sidecar.transport.grpc_aio.channels import ChannelPool
from sidecar.transport.grpc_aio.client import GrpcConnector
from sidecar.transport.grpc_aio.method_kinds import MethodKinds
from sidecar.transport.grpc_aio.server import GrpcListener
from sidecar.transport.h2.connector import H2Connector
from sidecar.transport.h2.listener import H2Listener
from tests.unit.security.pki_helpers import TD, issued, odd

pytestmark = pytest.mark.integration
TRANSPORTS = pytest.mark.parametrize("transport", ["grpc", "h2"])

CALLER = "spiffe://cluster.local/ns/default/sa/caller"
METHOD = "/apex.mesh.v1.Echo/Unary"
HOUR = 3600.0


async def _whoami(request: Request) -> Response:
    """The service behind the listener answers with the principal the listener found."""
    async for _ in request.messages:
        pass
    return BufferedResponse(Status(Code.OK), [request.call.principal.encode() or b"-"])


async def _listener(tls: ListenerTls, transport: str = "grpc") -> Listener:
    spec = ListenerSpec("inbound", "127.0.0.1:0", tls=tls)
    listener: Listener
    if transport == "h2":
        listener = H2Listener(spec, Switch(_whoami))
    else:
        listener = GrpcListener(spec, Switch(_whoami), MethodKinds())
    await listener.start()
    return listener


def _connector(transport: str, tls: ClientTls) -> Connector:
    if transport == "h2":
        return H2Connector(tls=tls)
    return GrpcConnector(MethodKinds(), ChannelPool(tls=tls))


async def _close(connector: Connector) -> None:
    assert isinstance(connector, (H2Connector, GrpcConnector))
    await connector.close()


async def _call(address: str, material: TlsMaterial | None, bundle: bytes) -> tuple[grpc.StatusCode, str]:
    if material is None:
        creds = grpc.ssl_channel_credentials(bundle)
    else:
        creds = grpc.ssl_channel_credentials(bundle, material.key_pem, material.chain_pem)
    options = (("grpc.ssl_target_name_override", mesh_server_name(TD)),)
    async with grpc.aio.secure_channel(address, creds, options=options) as channel:
        try:
            reply = await channel.unary_unary(METHOD)(b"", timeout=5)
        except grpc.aio.AioRpcError as exc:
            return exc.code(), exc.details() or ""
        return grpc.StatusCode.OK, reply.decode()


@TRANSPORTS
def test_rejection_matrix_each_case_with_its_status_and_counter(transport: str) -> None:
    async def scenario() -> None:
        now = time.time()
        ca = MeshCA.create(TD, now)
        credentials = Credentials(issued(ca, "echo", now))
        check = PeerCheck(MtlsMode.STRICT, TD, allowed=(CALLER,))
        tls = ListenerTls(credentials, check)
        listener = await _listener(tls, transport)
        address, bundle = listener.bound, ca.bundle_pem()
        try:
            good = issued(ca, "caller", now)
            assert await _call(address, good, bundle) == (grpc.StatusCode.OK, CALLER)  # principal reached the service

            # Refused in the handshake: the caller sees UNAVAILABLE; the h2 listener counts each by reason
            # (grpc Python gives its server no hook: there only the connectors count, see below).
            assert (await _call(address, None, bundle))[0] is grpc.StatusCode.UNAVAILABLE  # no client certificate
            stranger_ca = MeshCA.create(TD, now)
            stranger = issued(stranger_ca, "caller", now)
            assert (await _call(address, stranger, bundle))[0] is grpc.StatusCode.UNAVAILABLE  # wrong CA
            expired = odd(ca, "caller", now - 2 * HOUR, now - HOUR)
            assert (await _call(address, expired, bundle))[0] is grpc.StatusCode.UNAVAILABLE  # expired
            future = odd(ca, "caller", now + HOUR, now + 2 * HOUR)
            assert (await _call(address, future, bundle))[0] is grpc.StatusCode.UNAVAILABLE  # not yet valid
            # A caller that does not trust the mesh CA refuses the server too.
            assert (await _call(address, good, stranger_ca.bundle_pem()))[0] is grpc.StatusCode.UNAVAILABLE

            # Refused after the handshake, with a status and a counter.
            intruder = issued(ca, "intruder", now)
            code, details = await _call(address, intruder, bundle)
            assert code is grpc.StatusCode.PERMISSION_DENIED
            assert details == "apex: peer spiffe://cluster.local/ns/default/sa/intruder is not allowed on this listener"
            assert check.rejected["not_allowed"] == 1

            # CA rotation: both roots trusted during the overlap, the old one refused once retired.
            ca.rotate(now + 1)
            credentials.install(issued(ca, "echo", now + 1))  # the server renews under the new root
            fresh = issued(ca, "caller", now + 1)
            assert await _call(address, good, ca.bundle_pem()) == (grpc.StatusCode.OK, CALLER)  # old root, overlap
            assert await _call(address, fresh, ca.bundle_pem()) == (grpc.StatusCode.OK, CALLER)
            ca.retire()
            credentials.install(issued(ca, "echo", now + 2))  # its bundle now holds the new root only
            assert (await _call(address, good, ca.bundle_pem()))[0] is grpc.StatusCode.UNAVAILABLE  # after rotation
            assert await _call(address, fresh, ca.bundle_pem()) == (grpc.StatusCode.OK, CALLER)
            assert check.accepted["mtls"] == 4
            assert dict(check.rejected) == {"not_allowed": 1}
            if transport == "h2":
                assert dict(tls.handshakes) == {
                    "no_client_certificate": 1,
                    "unknown_ca": 2,  # another CA's certificate; the old root's after retire()
                    "expired": 1,
                    "not_yet_valid": 1,
                    "closed_by_peer": 1,  # the caller refused the server's certificate (grpc sends no alert)
                }
            else:
                assert dict(tls.handshakes) == {}
        finally:
            await listener.stop(None)

    asyncio.run(scenario())


async def _relay(connector: Connector, address: str) -> Status:
    request = Request(CallDescriptor(METHOD), _one(b""))
    response = await connector(address, "", request)
    while await response.read() is not None:
        pass
    status = await response.status()
    request.finish(status)
    return status


@TRANSPORTS
def test_connectors_count_failed_handshakes_by_reason(transport: str) -> None:
    """The connector's side of the matrix: a server outside the mesh's CA, and a server refusing
    the connector's certificate; each call fails UNAVAILABLE and the reason is counted."""

    async def scenario() -> None:
        now = time.time()
        ca, stranger = MeshCA.create(TD, now), MeshCA.create(TD, now)
        foreign = await _listener(
            ListenerTls(Credentials(issued(stranger, "echo", now)), PeerCheck(MtlsMode.STRICT, TD)), transport
        )
        client = ClientTls(Credentials(issued(ca, "caller", now)), TD)
        connector = _connector(transport, client)
        try:
            status = await _relay(connector, foreign.bound)
            assert status.code is Code.UNAVAILABLE, status
            assert client.handshakes["bad_certificate" if transport == "grpc" else "unknown_ca"] == 1
        finally:
            await _close(connector)
            await foreign.stop(None)
        # A server of the mesh refusing an expired client certificate (TLS 1.3: its alert comes after the handshake).
        server_tls = ListenerTls(Credentials(issued(ca, "echo", now)), PeerCheck(MtlsMode.STRICT, TD))
        server = await _listener(server_tls, transport)
        expired = ClientTls(Credentials(odd(ca, "caller", now - 2 * HOUR, now - HOUR)), TD)
        connector = _connector(transport, expired)
        try:
            status = await _relay(connector, server.bound)
            assert status.code is Code.UNAVAILABLE, status
            if transport == "h2":
                for _ in range(200):  # the connection's end reaches the protocol a loop iteration or two later
                    if expired.handshakes:
                        break
                    await asyncio.sleep(0.01)
                assert dict(expired.handshakes) == {"closed_by_peer": 1}  # an asyncio server sends no alert
                assert dict(server_tls.handshakes) == {"expired": 1}
        finally:
            await _close(connector)
            await server.stop(None)

    asyncio.run(scenario())


async def _one(message: bytes) -> AsyncIterator[bytes]:
    yield message


@TRANSPORTS
def test_certificates_rotate_under_load_with_zero_failed_calls(transport: str) -> None:
    async def scenario() -> None:
        now = time.time()
        ca = MeshCA.create(TD, now)
        server_credentials = Credentials(issued(ca, "echo", now))
        server_tls = ListenerTls(server_credentials, PeerCheck(MtlsMode.STRICT, TD, allowed=(CALLER,)))
        listener = await _listener(server_tls, transport)
        client_credentials = Credentials(issued(ca, "caller", now))
        client_tls = ClientTls(client_credentials, TD)
        connector = _connector(transport, client_tls)
        failures: list[Status] = []
        done = 0
        stop = asyncio.Event()

        async def worker() -> None:
            nonlocal done
            while not stop.is_set():
                request = Request(CallDescriptor(METHOD), _one(b""))
                response = await connector(listener.bound, "", request)
                reply = await response.read()
                status = await response.status()
                request.finish(status)
                if not status.ok or reply != CALLER.encode():
                    failures.append(status)
                done += 1

        workers = [asyncio.create_task(worker()) for _ in range(8)]
        try:
            for step in range(1, 7):
                await asyncio.sleep(0.15)
                if step == 3:
                    ca.rotate(now + step)  # the CA rotates in the middle: overlap bundle
                server_credentials.install(issued(ca, "echo", now + step))
                client_credentials.install(issued(ca, "caller", now + step))
            ca.retire()
            server_credentials.install(issued(ca, "echo", now + 10))
            client_credentials.install(issued(ca, "caller", now + 10))
            await asyncio.sleep(0.3)
        finally:
            stop.set()
            await asyncio.gather(*workers)
            await _close(connector)
            await listener.stop(None)
        assert failures == []
        assert done > 50
        assert dict(server_tls.handshakes) == {} and dict(client_tls.handshakes) == {}

    asyncio.run(scenario())


@TRANSPORTS
def test_permissive_serves_plaintext_and_mtls_on_one_port(transport: str) -> None:
    async def scenario() -> None:
        now = time.time()
        ca = MeshCA.create(TD, now)
        check = PeerCheck(MtlsMode.PERMISSIVE, TD)
        listener = await _listener(ListenerTls(Credentials(issued(ca, "echo", now)), check), transport)
        try:
            assert await _call(listener.bound, issued(ca, "caller", now), ca.bundle_pem()) == (
                grpc.StatusCode.OK,
                CALLER,
            )
            async with grpc.aio.insecure_channel(listener.bound) as channel:
                assert await channel.unary_unary(METHOD)(b"", timeout=5) == b"-"  # plaintext: no principal
            stranger = MeshCA.create(TD, now)  # TLS from outside the mesh is still refused in the handshake
            assert (await _call(listener.bound, issued(stranger, "caller", now), ca.bundle_pem()))[0] is (
                grpc.StatusCode.UNAVAILABLE
            )
            assert dict(check.accepted) == {"mtls": 1, "plaintext": 1}
        finally:
            await listener.stop(None)

    asyncio.run(scenario())
