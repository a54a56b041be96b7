"""The control-plane client: one long-lived stream; applies pushes atomically and ACKs or NACKs them.

The data path never waits on it: it runs as a background task; while the control plane is away
the sidecar keeps serving the policy in force (the last good one, persisted to disk, or the
static bootstrap, which is the floor).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Protocol

import grpc
from apex.mesh.contract.backoff import Backoff
from apex.mesh.security.spiffe import control_plane_server_name
from apex.mesh.v1 import config_pb2, control_pb2, control_pb2_grpc

from sidecar.control import persist
from sidecar.control.host import PolicyHost
from sidecar.policy import convert
from sidecar.policy.errors import ConfigError
from sidecar.policy.model import ControlPlane, Policy

if TYPE_CHECKING:  # cryptography is loaded only by a sidecar with an identity
    from sidecar.security.credentials import Credentials
    from sidecar.security.material import TlsMaterial

log = logging.getLogger(__name__)


class Issuer(Protocol):
    """The workload certificate's side of the stream (sidecar/security/credentials.IssuedSource)."""

    @property
    def credentials(self) -> Credentials: ...

    def request(self) -> bytes: ...

    def issued(self, chain_pem: bytes, bundle_pem: bytes) -> object: ...

    def due(self, now: float) -> bool: ...

    def rebundle(self, bundle_pem: bytes) -> None: ...


# HTTP/2 keepalive pings find a control plane that vanished without closing the connection.
CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.http2.max_pings_without_data", 0),
]


CSR_RETRY = 10.0  # seconds before asking again when a CSR went unanswered
MTLS_ATTEMPTS = 3  # failed connects to the mTLS port before trying the configured address with the join token
MTLS_HINT = "apex-mtls-address"  # trailing metadata of a refusal: where the mTLS port is now


@dataclass(frozen=True, slots=True)
class Route:
    """Where the stream connects and with what: the mTLS port presenting the workload certificate,
    or the configured address with the join token (`material` None)."""

    address: str
    material: TlsMaterial | None = None

    @property
    def credential(self) -> str:
        return "join token" if self.material is None else f"certificate {self.material.identity}"


def mtls_target(configured: str, advertised: str) -> str:
    """The mTLS port's address: `advertised` as the control plane gave it, `:PORT` meaning the host of
    the configured address (a Kubernetes Service name serves both ports)."""
    host, _, port = advertised.rpartition(":")
    return advertised if host else f"{configured.rpartition(':')[0]}:{port}"


def choose_route(
    configured: str, advertised: str, material: TlsMaterial | None, now: float, mtls_failures: int
) -> Route:
    """Once the mesh CA has issued the certificate in force, the stream goes to the mTLS port and the
    join token is no longer sent; back to the token only when that certificate has expired (a long
    outage) or the mTLS port failed `MTLS_ATTEMPTS` times in a row (a restarted control plane on a
    new port: the token stream's answer says where it is now)."""
    usable = material is not None and material.generation > 0 and material.not_before <= now < material.not_after
    if not advertised or not usable or mtls_failures >= MTLS_ATTEMPTS:
        return Route(configured)
    return Route(mtls_target(configured, advertised), material)


def _software_version() -> str:
    try:
        return f"apex-mesh/{metadata.version('apex-mesh')}"
    except metadata.PackageNotFoundError:
        return "apex-mesh/dev"


def asks_certificate(route: Route, advertised: str, due: bool) -> bool:
    """Send a CSR as the stream opens: when a renewal is due, and on every token stream of a sidecar that
    knows the control plane has an mTLS port (it fell back to the token): the answer names the port in
    force and moves the sidecar back there, instead of waiting for the next renewal."""
    return due or (route.material is None and bool(advertised))


@dataclass
class ControlStatus:
    """What the client has seen, for the admin API and logs."""

    connected: bool = False
    connects: int = 0
    applied: int = 0
    rejected: int = 0
    last_applied_version: str = ""
    last_nack: str = ""
    credential: str = ""  # of the stream in force (or last tried): "join token" / "certificate spiffe://…"
    address: str = ""  # where that stream connects


def pushed_policy(push: control_pb2.PolicyPush) -> tuple[Policy, config_pb2.Policy]:
    """A push's policy (stamped with the push's version), validated; ConfigError names the bad field."""
    message = push.policy
    message.version = push.version
    return convert.policy(message), message


class ControlClient:
    """The sidecar's side of the control stream; it sees the sidecar only through `PolicyHost`."""

    def __init__(self, host: PolicyHost, settings: ControlPlane, rng: random.Random | None = None) -> None:
        self.host = host
        self.settings = settings
        self.backoff = Backoff(rng=rng or random.Random())
        self.status = ControlStatus()
        self._outbox: asyncio.Queue[control_pb2.SidecarMessage | None] = asyncio.Queue()
        self.issuer: Issuer | None = None  # set when the mesh CA issues this sidecar's certificate
        self.token = ""  # bearer token (the service's join token) sent on the stream
        self.certificate_ttl = 0.0
        self._asked = 0.0  # when the last CSR went out (one outstanding at a time)
        self.mtls_address = ""  # the control plane's mTLS port, as it advertised it (with a certificate)
        self._mtls_failures = 0  # consecutive connects to it that failed
        self._route = Route(str(settings.address))
        self._switch = False  # a certificate arrived on the token stream: reconnect to the mTLS port now

    # --- start from the last good policy ------------------------------------------------------

    def restore(self) -> None:
        """Apply the persisted last good policy and discovered endpoints, if any; else keep the bootstrap."""
        saved = persist.load_endpoints(self.settings.last_good_file)
        if saved is not None:
            for cluster in saved.clusters:
                self.host.set_discovered(cluster.cluster, tuple(cluster.addresses))
        push = persist.load(self.settings.last_good_file)
        if push is None:
            return
        try:
            try:
                policy, message = pushed_policy(push)
            except ConfigError as exc:
                self.host.rejected(exc, push.version)
                raise
            self.host.apply(policy, message)
        except ConfigError as exc:
            log.warning("last good policy %s is no longer valid (%s); using the bootstrap", push.version, exc)
            return
        log.info("started from last good policy version %s (%s)", push.version, self.settings.last_good_file)

    # --- the stream ----------------------------------------------------------------------------

    def hello(self) -> control_pb2.Hello:
        node = self.host.node
        address = str(node.address) if node.address is not None else self.host.inbound_address()
        return control_pb2.Hello(
            service=node.service,
            instance=node.instance,
            inbound_address=address,
            zone=node.zone,
            version=_software_version(),
            labels=dict(node.labels),
            applied_version=self.host.policy.version,
        )

    def subscription(self) -> control_pb2.SidecarMessage:
        clusters = [
            control_pb2.DiscoveredCluster(cluster=c.name, service=c.discover)
            for c in self.host.policy.clusters
            if c.discover
        ]
        return control_pb2.SidecarMessage(subscribe=control_pb2.Subscribe(clusters=clusters))

    def route(self, now: float) -> Route:
        material = self.issuer.credentials.current() if self.issuer is not None else None
        return choose_route(str(self.settings.address), self.mtls_address, material, now, self._mtls_failures)

    def _channel(self, route: Route) -> grpc.aio.Channel:
        if route.material is None:
            return grpc.aio.insecure_channel(route.address, options=CHANNEL_OPTIONS)
        material = route.material
        credentials = grpc.ssl_channel_credentials(material.bundle_pem, material.key_pem, material.chain_pem)
        # Only the control plane's certificate carries this name: another workload's cannot stand in for it.
        name = control_plane_server_name(material.identity.trust_domain)
        options = [*CHANNEL_OPTIONS, ("grpc.ssl_target_name_override", name)]
        return grpc.aio.secure_channel(route.address, credentials, options=options)

    async def run(self) -> None:
        """Connect, stream, reconnect with backoff and jitter; forever (until cancelled)."""
        while True:
            route = self._route = self.route(time.time())
            credential = route.credential if route.material is not None or self.token else "none"
            self.status.credential, self.status.address = credential, route.address
            opened = self.status.connects
            async with self._channel(route) as channel:
                try:
                    await self._session(control_pb2_grpc.ControlPlaneStub(channel))
                except grpc.aio.AioRpcError as exc:
                    self._refused(exc)
                    first = self.backoff.attempt == 0  # say it once per outage, not on every retry
                    log.log(
                        logging.WARNING if first else logging.DEBUG,
                        "control plane %s (%s): %s %s; serving policy %r, retrying with backoff",
                        route.address,
                        route.credential,
                        exc.code().name,
                        exc.details(),
                        self.host.policy.version,
                    )
                except Exception:
                    log.exception("control stream to %s failed", route.address)
                finally:
                    self.status.connected = False
            if route.material is not None:  # count the mTLS port's failed connects, in a row
                self._mtls_failures = 0 if self.status.connects > opened else self._mtls_failures + 1
            if self._switch:
                self._switch = False
                continue  # straight to the mTLS port with the new certificate
            await asyncio.sleep(self.backoff.next())

    def _refused(self, exc: grpc.aio.AioRpcError) -> None:
        """A refusal on the token path may say where the mTLS port is now (a restarted control plane)."""
        for key, value in exc.trailing_metadata() or ():
            if key == MTLS_HINT and isinstance(value, str) and value:
                if value != self.mtls_address:
                    log.info("the control plane's mTLS port is now %s", value)
                self.mtls_address, self._mtls_failures = value, 0

    async def _session(self, stub: control_pb2_grpc.ControlPlaneStub) -> None:
        self._outbox = asyncio.Queue()
        self._outbox.put_nowait(control_pb2.SidecarMessage(hello=self.hello()))
        self._outbox.put_nowait(self.subscription())
        if self.issuer is not None and asks_certificate(self._route, self.mtls_address, self.issuer.due(time.time())):
            self._ask_certificate()
        token = self.token if self._route.material is None else ""  # the certificate is the credential
        metadata = (("authorization", f"Bearer {token}"),) if token else None
        call = stub.Stream(self._requests(), metadata=metadata)
        heartbeats = asyncio.create_task(self._heartbeats())
        try:
            await call.wait_for_connection()
            self.status.connected = True
            self.status.connects += 1
            self.backoff.reset()
            log.info("connected to the control plane at %s (%s)", self._route.address, self._route.credential)
            async for message in call:
                await self._handle(message)
                if self._switch:
                    log.info("workload certificate in hand: moving to the control plane's mTLS port")
                    break
        finally:
            heartbeats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeats
            self._outbox.put_nowait(None)
            call.cancel()

    async def _requests(self) -> AsyncIterator[control_pb2.SidecarMessage]:
        outbox = self._outbox
        while (message := await outbox.get()) is not None:
            yield message

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_interval)
            heartbeat = control_pb2.Heartbeat(applied_version=self.host.policy.version)
            self._outbox.put_nowait(control_pb2.SidecarMessage(heartbeat=heartbeat))
            now = time.time()
            if self.issuer is not None and self.issuer.due(now) and now - self._asked > CSR_RETRY:
                self._ask_certificate()

    def _ask_certificate(self) -> None:
        """Send a CSR; renewal starts at half the certificate's life, so a late answer costs nothing."""
        assert self.issuer is not None
        self._asked = time.time()
        request = control_pb2.CertificateRequest(csr=self.issuer.request(), ttl_seconds=int(self.certificate_ttl))
        self._outbox.put_nowait(control_pb2.SidecarMessage(certificate_request=request))

    # --- pushes --------------------------------------------------------------------------------

    async def _handle(self, message: control_pb2.ControlMessage) -> None:
        kind = message.WhichOneof("kind")
        if kind == "policy":
            await self._apply(message.policy)
        elif kind == "endpoints" and self._endpoints(message.endpoints):
            await self._save_endpoints()
        elif kind == "certificate" and self.issuer is not None:
            self._certificate(message.certificate)
        elif kind == "trust_bundle" and self.issuer is not None:
            self.issuer.rebundle(message.trust_bundle.roots)
            log.info("trust bundle updated by the control plane (CA rotation)")

    def _certificate(self, answer: control_pb2.CertificateIssued) -> None:
        assert self.issuer is not None
        if answer.error:
            log.error("the control plane's CA refused this sidecar's CSR: %s", answer.error)
            return
        try:
            self.issuer.issued(answer.certificate_chain, answer.trust_bundle)
        except ValueError as exc:  # CertificateError: wrong identity, key mismatch
            log.error("unusable certificate from the control plane's CA: %s", exc)
            return
        self._asked = 0.0
        if answer.mtls_address:
            self.mtls_address, self._mtls_failures = answer.mtls_address, 0
            # On the token stream: move now (renewals on the mTLS stream are used at the next reconnect).
            self._switch = self._route.material is None and self.route(time.time()).material is not None

    async def _apply(self, push: control_pb2.PolicyPush) -> None:
        try:
            try:  # the protobuf stops here: validated off the event loop, so a big push cannot stall calls
                policy, message = await asyncio.to_thread(pushed_policy, push)
            except ConfigError as exc:
                self.host.rejected(exc, push.version)
                raise
            self.host.apply(policy, message)  # an identical re-push (reconnect) rebuilds nothing
        except ConfigError as exc:
            self.status.last_nack = f"{push.version}: {exc.field}: {exc.reason}"
            self.status.rejected += 1
            log.error("rejected policy version %s: %s: %s", push.version, exc.field, exc.reason)
            nack = control_pb2.Nack(version=push.version, nonce=push.nonce, field=exc.field, reason=exc.reason)
            self._outbox.put_nowait(control_pb2.SidecarMessage(nack=nack))
            return
        except Exception as exc:  # a bug must not take the client down: NACK, keep the old policy
            log.exception("applying policy version %s failed", push.version)
            self.status.last_nack = f"{push.version}: internal error: {exc!r}"
            self.status.rejected += 1
            nack = control_pb2.Nack(version=push.version, nonce=push.nonce, reason=f"internal error: {exc!r}")
            self._outbox.put_nowait(control_pb2.SidecarMessage(nack=nack))
            return
        self.status.applied += 1
        self.status.last_applied_version = push.version
        log.info("applied policy version %s", push.version)
        try:
            await asyncio.to_thread(persist.save, self.settings.last_good_file, push)
        except OSError as exc:
            log.warning("could not persist the last good policy to %s: %s", self.settings.last_good_file, exc)
        self._outbox.put_nowait(control_pb2.SidecarMessage(ack=control_pb2.Ack(version=push.version, nonce=push.nonce)))
        self._outbox.put_nowait(self.subscription())

    def _endpoints(self, push: control_pb2.EndpointPush) -> bool:
        """Install discovered endpoint sets; True when the saved copy should be rewritten."""
        changed = False
        for update in push.clusters:
            changed |= self.host.set_discovered(update.cluster, tuple(update.addresses))
        return changed

    async def _save_endpoints(self) -> None:
        """Keep the discovered sets beside the last good policy, for a restart without the control plane."""
        snapshot = control_pb2.EndpointPush()
        for cluster, addresses in sorted(self.host.discovered().items()):
            snapshot.clusters.add(cluster=cluster, addresses=addresses)
        try:
            await asyncio.to_thread(persist.save, persist.endpoints_path(self.settings.last_good_file), snapshot)
        except OSError as exc:
            log.warning("could not persist discovered endpoints: %s", exc)
