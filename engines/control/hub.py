"""One control-plane replica's live state: its sidecar sessions, the shared registry and the pushes.

Replicas are stateless over Redis: each writes the records of the sidecars connected to it into
the `registry` hash, and every policy write is announced on the store's pub/sub channel, so a
change made through any replica reaches the sidecars connected to every replica. A periodic tick
re-reads both (covering a missed notification) and expires silent instances.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from apex.mesh.contract.names import is_name
from apex.mesh.security.spiffe import SpiffeId
from apex.mesh.v1 import control_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from redis.asyncio import Redis
from redis.exceptions import RedisError

from engines.control import rollout
from engines.control.ca_sync import CaSync
from engines.control.registry import Instance, Nack, Registry
from engines.control.store import Heads, PolicyStore
from engines.security.ca import MeshCA

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Session:
    """One sidecar's open stream on this replica."""

    service: str
    instance: str
    queue: asyncio.Queue[control_pb2.ControlMessage | None] = field(default_factory=asyncio.Queue)
    pushed: tuple[str, int] = ("", 0)  # (store epoch, version) last pushed
    subscriptions: dict[str, str] = field(default_factory=dict)  # cluster -> service
    sent_endpoints: dict[str, tuple[str, ...]] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    certified: bool = False  # authenticated by its workload certificate (mTLS port), not a join token


def _stamp(ts: Timestamp, seconds: float) -> None:
    whole = int(seconds)
    ts.seconds, ts.nanos = whole, min(999_999_999, round((seconds - whole) * 1e9))


def to_status(instance: Instance, healthy: bool) -> control_pb2.InstanceStatus:
    status = control_pb2.InstanceStatus(
        service=instance.service,
        instance=instance.instance,
        address=instance.address,
        zone=instance.zone,
        sidecar_version=instance.sidecar_version,
        labels=dict(instance.labels),
        connected=instance.connected,
        healthy=healthy,
        applied_version=instance.applied_version,
        pushed_version=instance.pushed_version,
        replica=instance.replica,
        bound_keys=instance.bound_keys,
        identity=instance.identity,
    )
    _stamp(status.last_heartbeat, instance.last_heartbeat)
    _stamp(status.updated, instance.updated)
    if instance.last_nack is not None:
        status.last_nack_version = instance.last_nack.version
        status.last_nack_field = instance.last_nack.field
        status.last_nack_reason = instance.last_nack.reason
    return status


def from_status(status: control_pb2.InstanceStatus) -> Instance:
    nack = None
    if status.last_nack_version or status.last_nack_reason:
        nack = Nack(status.last_nack_version, status.last_nack_field, status.last_nack_reason)
    return Instance(
        service=status.service,
        instance=status.instance,
        address=status.address,
        zone=status.zone,
        sidecar_version=status.sidecar_version,
        labels=tuple(sorted(status.labels.items())),
        replica=status.replica,
        connected=status.connected,
        last_heartbeat=status.last_heartbeat.seconds + status.last_heartbeat.nanos / 1e9,
        updated=status.updated.seconds + status.updated.nanos / 1e9,
        applied_version=status.applied_version,
        pushed_version=status.pushed_version,
        last_nack=nack,
        bound_keys=tuple(status.bound_keys),
        identity=status.identity,
    )


def advertised(address: str, peer: str) -> str:
    """The inbound address to register: a wildcard host is replaced by the stream's peer IP."""
    host, _, port = address.rpartition(":")
    if host not in ("", "0.0.0.0", "[::]", "::"):
        return address
    kind, _, rest = peer.partition(":")  # "ipv4:127.0.0.1:5555" / "ipv6:[::1]:5555"
    peer_host = rest.rpartition(":")[0]
    return f"{peer_host}:{port}" if kind in ("ipv4", "ipv6") and peer_host else address


class Takeover(Exception):
    """A hello names an instance id another service holds, or one bound to a certificate it lacks."""


class Hub:
    def __init__(
        self,
        redis: Redis,
        store: PolicyStore,
        *,
        replica: str = "",
        stale_after: float = 3.0,
        remove_after: float = 30.0,
        lease: float = 10.0,
        tick: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.store = store
        self.replica = replica or f"cp-{uuid.uuid4().hex[:8]}"
        self.registry = Registry(stale_after=stale_after, remove_after=remove_after, lease=lease)
        self.sessions: dict[str, Session] = {}
        self.tick = tick
        self.clock = clock
        self.registry_key = f"{store.prefix}registry"
        self._nonces = itertools.count(1)
        self._tasks: list[asyncio.Task[None]] = []
        self.ca: MeshCA | None = None  # the mesh CA signing sidecars' CSRs (engines/security/ca.py)
        self.namespace = "default"  # the namespace of the SPIFFE IDs it issues
        self.mtls_address = ""  # where sidecars holding a certificate connect (":PORT"; "" = no mTLS port)
        self.ca_sync: CaSync | None = None  # the CA shared through Redis (--ca-store), else None

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._listen()), asyncio.create_task(self._ticker())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for session in list(self.sessions.values()):
            session.queue.put_nowait(None)

    # --- sessions ------------------------------------------------------------------------------

    async def open(self, hello: control_pb2.Hello, peer: str, key: str = "", identity: str = "") -> Session:
        """Register the stream's instance. `key`/`identity`: the public-key SHA-256 and SPIFFE ID of
        the certificate the stream presented (mTLS port), "" when it authenticated with a join token."""
        now = self.clock()
        instance = Instance(
            service=hello.service,
            instance=hello.instance,
            address=advertised(hello.inbound_address, peer) if hello.inbound_address else "",
            zone=hello.zone,
            sidecar_version=hello.version,
            labels=tuple(sorted(hello.labels.items())),
            replica=self.replica,
            applied_version=hello.applied_version,
            identity=identity,
        )
        problem = self.registry.claim_problem(hello.service, hello.instance, key, now)
        if problem is not None:
            raise Takeover(problem)
        instance = self.registry.claimed(instance, key)
        old = self.sessions.get(hello.instance)
        if old is not None:
            old.queue.put_nowait(None)
        session = Session(service=hello.service, instance=hello.instance, certified=bool(key))
        self.sessions[hello.instance] = session
        await self._save(self.registry.register(instance, now), announce=True)
        log.info("instance %s of %s connected from %s (%s)", hello.instance, hello.service, peer, identity or "token")
        try:
            await self.push_policy(session)
        except RedisError as exc:  # keep the stream; the tick pushes once the store is back
            log.warning("policy store unavailable for %s: %s", hello.service, exc)
        return session

    async def close(self, session: Session) -> None:
        if self.sessions.get(session.instance) is session:
            del self.sessions[session.instance]
            await self._save(self.registry.disconnect(session.instance, self.replica, self.clock()), announce=True)
            log.info("instance %s of %s disconnected", session.instance, session.service)

    async def receive(self, session: Session, message: control_pb2.SidecarMessage) -> None:
        now = self.clock()
        kind = message.WhichOneof("kind")
        if kind == "heartbeat":
            await self._save(
                self.registry.update(
                    session.instance, now, heartbeat=True, applied_version=message.heartbeat.applied_version
                )
            )
        elif kind == "ack":
            await self._save(
                self.registry.update(session.instance, now, heartbeat=True, applied_version=message.ack.version)
            )
        elif kind == "nack":
            nack = message.nack
            log.warning(
                "instance %s rejected version %s: %s: %s", session.instance, nack.version, nack.field, nack.reason
            )
            await self._save(
                self.registry.update(
                    session.instance, now, heartbeat=True, last_nack=Nack(nack.version, nack.field, nack.reason)
                )
            )
        elif kind == "certificate_request":
            answer, key = self._certify(session, message.certificate_request)
            session.queue.put_nowait(answer)
            if self.mtls_address:  # ids are bound only where the certificate can be presented (not --insecure)
                await self._save(self.registry.bind(session.instance, key, now))
        elif kind == "subscribe":
            wanted = message.subscribe.clusters
            session.subscriptions = {c.cluster: c.service for c in wanted if is_name(c.cluster) and is_name(c.service)}
            if len(session.subscriptions) < len(wanted):
                log.warning("instance %s: ignored subscriptions with invalid names", session.instance)
            session.sent_endpoints.clear()
            await self.push_endpoints(session)

    def _certify(
        self, session: Session, request: control_pb2.CertificateRequest
    ) -> tuple[control_pb2.ControlMessage, str]:
        """Sign the CSR for the session's service (the identity the stream authenticated as); the
        answer and the certified key's SHA-256 ("" when refused), which the instance id is bound to."""
        if self.ca is None:
            return control_pb2.ControlMessage(
                certificate=control_pb2.CertificateIssued(error="this control plane runs no CA")
            ), ""
        identity = SpiffeId(self.ca.trust_domain, self.namespace, session.service)
        try:
            issued = self.ca.sign(request.csr, identity, self.clock(), float(request.ttl_seconds) or None)
        except ValueError as exc:
            log.warning("refused a CSR from %s: %s", session.instance, exc)
            return control_pb2.ControlMessage(certificate=control_pb2.CertificateIssued(error=str(exc))), ""
        log.info(
            "issued a certificate for %s (instance %s, stream authenticated by %s)",
            identity,
            session.instance,
            "certificate" if session.certified else "join token",
        )
        answer = control_pb2.CertificateIssued(
            certificate_chain=issued.chain_pem, trust_bundle=issued.bundle_pem, mtls_address=self.mtls_address
        )
        return control_pb2.ControlMessage(certificate=answer), issued.key_fingerprint

    def announce_bundle(self) -> None:
        """Send the CA's current trust bundle to every connected sidecar (after a rotation)."""
        if self.ca is None:
            return
        bundle = control_pb2.ControlMessage(trust_bundle=control_pb2.TrustBundle(roots=self.ca.bundle_pem()))
        for session in self.sessions.values():
            session.queue.put_nowait(bundle)

    # --- pushes --------------------------------------------------------------------------------

    async def push_policy(self, session: Session, heads: Heads | None = None) -> None:
        """Push the version this instance should run when it differs from the last one pushed."""
        async with session.lock:
            latest, stable, epoch = heads or await self.store.heads(session.service)
            if not latest:
                return
            percent = 100.0
            if latest != stable:
                percent = (await self.store.get(session.service, latest)).rollout_percent
            now = self.clock()
            members = [i.instance for i in self.registry.of(session.service) if self.registry.healthy(i, now)]
            version = rollout.target(session.service, latest, percent, stable, session.instance, members)
            if not version or (epoch, version) == session.pushed:
                return
            record = await self.store.get(session.service, version)
            nonce = f"{self.replica}-{next(self._nonces)}"
            push = control_pb2.PolicyPush(version=str(version), nonce=nonce)
            push.policy.CopyFrom(record.policy)
            session.queue.put_nowait(control_pb2.ControlMessage(policy=push))
            session.pushed = (epoch, version)
            log.info("pushed %s version %d to %s (nonce %s)", session.service, version, session.instance, nonce)
        await self._save(self.registry.update(session.instance, self.clock(), pushed_version=str(version)))

    async def push_endpoints(self, session: Session) -> None:
        now = self.clock()
        update = control_pb2.EndpointPush()
        for cluster, service in sorted(session.subscriptions.items()):
            addresses = self.registry.endpoints(service, now)
            if session.sent_endpoints.get(cluster) != addresses:
                session.sent_endpoints[cluster] = addresses
                update.clusters.add(cluster=cluster, addresses=addresses)
        if update.clusters:
            session.queue.put_nowait(control_pb2.ControlMessage(endpoints=update))

    async def refresh(self) -> None:
        """Merge the shared registry from Redis, expire silent instances, push what changed."""
        raw = await self.redis.hgetall(self.registry_key)
        self.registry.merge(from_status(control_pb2.InstanceStatus.FromString(v)) for v in raw.values())
        gone = self.registry.expire(self.clock())
        if gone:
            await self.redis.hdel(self.registry_key, *[i.instance for i in gone])
            log.info("removed silent instances: %s", [i.instance for i in gone])
        heads: dict[str, Heads] = {}
        for session in list(self.sessions.values()):
            await self.push_endpoints(session)
            if session.service not in heads:
                heads[session.service] = await self.store.heads(session.service)
            await self.push_policy(session, heads[session.service])

    async def _save(self, instance: Instance | None, *, announce: bool = False) -> None:
        if instance is None:
            return
        status = to_status(instance, self.registry.healthy(instance, self.clock()))
        try:
            await self.redis.hset(self.registry_key, instance.instance, status.SerializeToString())
            if announce:
                await self.redis.publish(self.store.channel, "registry")
        except RedisError as exc:
            log.warning("registry write for %s failed: %s", instance.instance, exc)

    # --- background ----------------------------------------------------------------------------

    async def _listen(self) -> None:
        """Follow the change channel; reconnect after Redis errors."""
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(self.store.channel)
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    data = message["data"]
                    text = data.decode() if isinstance(data, bytes) else str(data)
                    await self._changed(text)
            except (RedisError, OSError) as exc:
                log.warning("change channel lost (%s); retrying", exc)
                await asyncio.sleep(self.tick)
            except Exception:
                log.exception("change listener failed; restarting it")
                await asyncio.sleep(self.tick)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _changed(self, text: str) -> None:
        if text.startswith("policy:"):
            service = text.removeprefix("policy:")
            heads = await self.store.heads(service)
            for session in [s for s in self.sessions.values() if s.service == service]:
                await self.push_policy(session, heads)
        elif text == "registry":
            await self.refresh()
        elif text == "ca" and self.ca_sync is not None:
            await self.ca_sync.check()

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            try:
                await self.refresh()
                if self.ca_sync is not None:  # covers a missed "ca" notification
                    await self.ca_sync.check()
            except (RedisError, OSError) as exc:
                log.warning("refresh failed: %s", exc)
            except Exception:
                log.exception("refresh failed")
