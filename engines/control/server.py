"""The control-plane gRPC server: ControlPlane streams for sidecars, PolicyAdmin for operators/engines."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc
from apex.mesh.bus.connect import connect, is_cluster_url
from apex.mesh.contract.names import name_problem
from apex.mesh.v1 import config_pb2, control_pb2, control_pb2_grpc
from redis.exceptions import RedisError

from engines.control import authn, mtls, patch
from engines.control.ca_admin import CertificateAuthorityServicer
from engines.control.ca_sync import CaSync
from engines.control.hub import Hub, Takeover, to_status
from engines.control.store import (
    DEFAULT_MAX_POLICY_BYTES,
    NotFound,
    PolicyStore,
    StoreError,
    Validator,
    check_service,
    diff_changes,
    persistence_problem,
)
from engines.security.ca import MeshCA
from engines.security.ca_store import CaStore, SharedCa

log = logging.getLogger(__name__)

# Accept the sidecars' keepalive pings (every 10 s) even while no push is sent, and ping them in
# turn so a stream to a vanished sidecar is closed rather than kept forever.
SERVER_OPTIONS = [
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ("grpc.http2.max_ping_strikes", 0),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
]


def address_problem(address: str) -> str | None:
    """Why `address` is not `host:port` (host: an IP, [IPv6], a name, or empty for the peer's IP)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) <= 65535:
        return f"{address!r} is not host:port with a port in 1..65535"
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if host:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if name_problem(host) is not None or host.replace(".", "").isdigit():
                return f"{address!r}: {host!r} is not an IP address or host name"
    return None


def hello_problem(hello: control_pb2.Hello) -> str | None:
    """Why a stream's Hello is refused: names by the shared rule, a well-formed inbound address."""
    for field, value in (("hello.service", hello.service), ("hello.instance", hello.instance)):
        problem = "is required" if not value else name_problem(value)
        if problem is not None:
            return f"{field} {problem}"
    if hello.inbound_address and (problem := address_problem(hello.inbound_address)) is not None:
        return f"hello.inbound_address {problem}"
    return None


class ControlPlaneServicer(control_pb2_grpc.ControlPlaneServicer):
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def Stream(
        self, request_iterator: AsyncIterator[control_pb2.SidecarMessage], context: Any
    ) -> AsyncIterator[control_pb2.ControlMessage]:
        first = await anext(aiter(request_iterator), None)
        if first is None or not first.HasField("hello"):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first message of a stream must be hello")
        assert first is not None
        hello = first.hello
        problem = hello_problem(hello)
        if problem is not None:
            log.warning("refused a stream from %s: %s", context.peer(), problem)
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        principal = authn.current()
        if principal is not authn.INSECURE and (principal.kind != "sidecar" or principal.name != hello.service):
            refusal = f"{principal} may not register service {hello.service!r}"
            log.warning("refused a stream from %s: %s", context.peer(), refusal)
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"apex: {refusal}")
        try:
            session = await self.hub.open(hello, context.peer(), principal.key, principal.spiffe_id)
        except Takeover as exc:
            log.warning("refused a stream from %s: %s", context.peer(), exc)
            # A sidecar that lost track of the mTLS port (a restarted control plane binds a new one)
            # learns it here and reconnects there with its certificate.
            hint = (("apex-mtls-address", self.hub.mtls_address),) if self.hub.mtls_address else None
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"apex: {exc}", trailing_metadata=hint)

        async def read() -> None:
            try:
                async for message in request_iterator:
                    await self.hub.receive(session, message)
            finally:
                session.queue.put_nowait(None)

        reader = asyncio.create_task(read())
        try:
            while (message := await session.queue.get()) is not None:
                yield message
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, grpc.RpcError, RedisError):
                await reader
            await self.hub.close(session)


def _store_errors(method: Any) -> Any:
    """Map StoreError / PatchError / Redis errors to gRPC statuses carrying the reason."""

    async def wrapper(self: Any, request: Any, context: Any) -> Any:
        try:
            return await method(self, request, context)
        except StoreError as exc:
            await context.abort(getattr(grpc.StatusCode, exc.code), str(exc))
        except patch.PatchError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"invalid patch: {exc}")
        except RedisError as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"policy store unavailable: {exc}")
        except (ValueError, TypeError, OverflowError) as exc:  # a value protobuf refused: still the caller's input
            log.warning("%s refused: %s: %s", method.__name__, type(exc).__name__, exc)
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"invalid request: {exc}")

    wrapper.__name__ = method.__name__
    return wrapper


async def _audited(claimed: control_pb2.Change, context: Any) -> control_pb2.Change:
    """The change as recorded: its author is the authenticated principal, whatever was claimed;
    sidecars (join tokens) may not write policy."""
    principal = authn.current()
    if principal.kind == "sidecar":
        await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"apex: {principal} may not change policy")
    change = control_pb2.Change()
    change.CopyFrom(claimed)
    if principal is not authn.INSECURE:  # --insecure keeps the claim (said loudly at start: unverified)
        change.author = principal.name
    return change


class PolicyAdminServicer(control_pb2_grpc.PolicyAdminServicer):
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.store = hub.store

    @_store_errors
    async def GetPolicy(self, request: control_pb2.GetPolicyRequest, context: Any) -> control_pb2.PolicyRecord:
        check_service(request.service)
        return await self.store.get(request.service, request.version)

    @_store_errors
    async def SetPolicy(self, request: control_pb2.SetPolicyRequest, context: Any) -> control_pb2.PolicyRecord:
        return await self.store.set(request.service, request.policy, await _audited(request.change, context))

    @_store_errors
    async def PatchPolicy(self, request: control_pb2.PatchPolicyRequest, context: Any) -> control_pb2.PolicyRecord:
        check_service(request.service)
        try:
            current = await self.store.get(request.service)
        except NotFound as exc:
            raise NotFound(f"{exc}; store a whole policy first (SetPolicy / `apex policy set`)") from None
        base = current.version
        patched = config_pb2.Policy()
        patched.CopyFrom(current.policy)
        patch.apply(patched, request.path, request.value)
        change = await _audited(request.change, context)
        if not change.HasField("expected_version"):
            change.expected_version = base  # atomic read-modify-write: conflicts if anyone wrote since
        if not change.reason:
            change.reason = f"patch {request.path} = {request.value}"
        return await self.store.set(request.service, patched, change)

    @_store_errors
    async def History(self, request: control_pb2.HistoryRequest, context: Any) -> control_pb2.HistoryResponse:
        check_service(request.service)
        page = await self.store.history_page(request.service, request.limit, request.page_size, request.page_token)
        return control_pb2.HistoryResponse(records=page.records, next_page_token=page.next_token)

    @_store_errors
    async def Diff(self, request: control_pb2.DiffRequest, context: Any) -> control_pb2.DiffResponse:
        check_service(request.service)
        new = await self.store.get(request.service, request.to_version)
        start = request.from_version or new.version - 1
        old = (await self.store.get(request.service, start)).policy if start else None
        return control_pb2.DiffResponse(changes=diff_changes(old, new.policy))

    @_store_errors
    async def Rollback(self, request: control_pb2.RollbackRequest, context: Any) -> control_pb2.PolicyRecord:
        check_service(request.service)
        change = await _audited(request.change, context)
        if not change.HasField("expected_version"):
            change.expected_version = (await self.store.heads(request.service)).latest
        return await self.store.rollback(request.service, request.to_version, change)

    @_store_errors
    async def ListInstances(
        self, request: control_pb2.ListInstancesRequest, context: Any
    ) -> control_pb2.ListInstancesResponse:
        if request.service:
            check_service(request.service)
        await self.hub.refresh()
        now = self.hub.clock()
        registry = self.hub.registry
        return control_pb2.ListInstancesResponse(
            instances=[to_status(i, registry.healthy(i, now)) for i in registry.of(request.service)]
        )


CLUSTER_PREFIX = "{apex:cp}:"  # the default prefix on a Redis Cluster: the whole store in one slot


def cluster_prefix_problem(prefix: str) -> str | None:
    """Why `prefix` cannot hold the policy store on a Redis Cluster, or None.

    The store writes a version with one Lua script over three of its keys and the hub's registry
    is a fourth: on a Cluster they must share a slot, so the prefix must carry a hash tag (a
    non-empty `{...}`, which alone then picks the slot)."""
    start = prefix.find("{")
    end = prefix.find("}", start + 1) if start >= 0 else -1
    if start >= 0 and end > start + 1:
        return None
    return (
        f"prefix {prefix!r} has no hash tag: on a Redis Cluster the policy store's keys must share one slot; "
        f"use a prefix such as {CLUSTER_PREFIX!r} (the default with a redis+cluster:// URL)"
    )


class ControlPlaneServer:
    """A control-plane replica: the gRPC servers over a Redis-backed store and registry."""

    def __init__(
        self,
        listen: str,
        redis_url: str,
        *,
        validate: Validator | None = None,
        max_policy_bytes: int = DEFAULT_MAX_POLICY_BYTES,
        prefix: str = "apex:cp:",
        replica: str = "",
        stale_after: float = 3.0,
        remove_after: float = 30.0,
        tick: float = 0.5,
        keep_versions: int = 0,
        authenticator: authn.Authenticator | None = None,
        ca: MeshCA | None = None,
        namespace: str = "default",
        ca_dir: str = "",
        mtls_listen: str = "",
        lease: float = 10.0,
        shared_ca: SharedCa | None = None,
    ) -> None:
        self.listen = listen
        # Secure by default: without an authenticator nobody gets in (--insecure lets everyone in).
        self.authenticator = authenticator or authn.Authenticator({})
        self.bound = ""
        self.mtls_bound = ""
        if is_cluster_url(redis_url):
            problem = cluster_prefix_problem(prefix)
            if problem:
                raise ValueError(problem)
        self.redis = connect(redis_url)  # redis+cluster://: a Redis Cluster client (docs/scale-out.md)
        self.store = PolicyStore(
            self.redis, prefix=prefix, validate=validate, max_policy_bytes=max_policy_bytes, keep_versions=keep_versions
        )
        self.hub = Hub(
            self.redis,
            self.store,
            replica=replica,
            stale_after=stale_after,
            remove_after=remove_after,
            lease=lease,
            tick=tick,
        )
        self.hub.ca, self.hub.namespace = ca, namespace
        self._server = grpc.aio.server(options=SERVER_OPTIONS, interceptors=[authn.AuthInterceptor(self.authenticator)])
        self._servicers = (
            ControlPlaneServicer(self.hub),
            PolicyAdminServicer(self.hub),
            CertificateAuthorityServicer(self.hub, ca_dir),
        )
        self._add(self._server, *self._servicers)
        # The CA shared through Redis (--ca-store) is loaded or created in start().
        self.ca_store = CaStore(self.redis, prefix, self.store.channel, shared_ca) if shared_ca is not None else None
        # With a CA and authentication, a second port where a workload certificate is the credential.
        has_ca = ca is not None or shared_ca is not None
        self.mtls_listen = mtls_listen if has_ca and not self.authenticator.insecure else ""
        self._mtls_server: grpc.aio.Server | None = None
        self._mtls_credentials: grpc.ServerCredentials | None = None
        if ca is not None:
            self._mtls_setup(ca)

    def _mtls_setup(self, ca: MeshCA) -> None:
        if self.mtls_listen:
            interceptor = mtls.CertificateInterceptor(ca.trust_domain, self.hub.namespace)
            self._mtls_server = grpc.aio.server(options=SERVER_OPTIONS, interceptors=[interceptor])
            self._add(self._mtls_server, *self._servicers)
            self._mtls_credentials = mtls.server_credentials(ca, self.hub.clock)

    async def _load_shared_ca(self, store: CaStore) -> None:
        """The CA every replica shares: created here when Redis holds none (atomically), else loaded;
        ValueError when it cannot be opened (a wrong --secret-key), naming the key, never a secret."""
        try:
            ca, version, created = await store.load_or_create(self.hub.clock())
        except (RedisError, OSError) as exc:
            raise OSError(f"cannot load the mesh CA from Redis ({store.key}): {exc}") from None
        self.hub.ca = ca
        self.hub.ca_sync = CaSync(store, ca, version, self.hub.announce_bundle)
        log.info(
            "mesh CA for trust domain %s %s Redis (%s, version %d, %d root(s), sealed AES-GCM)",
            ca.trust_domain,
            "created in" if created else "loaded from",
            store.key,
            version,
            len(ca.roots),
        )
        self._mtls_setup(ca)

    @staticmethod
    def _add(
        server: grpc.aio.Server,
        control: ControlPlaneServicer,
        admin: PolicyAdminServicer,
        authority: CertificateAuthorityServicer,
    ) -> None:
        control_pb2_grpc.add_ControlPlaneServicer_to_server(control, server)
        control_pb2_grpc.add_PolicyAdminServicer_to_server(admin, server)
        control_pb2_grpc.add_CertificateAuthorityServicer_to_server(authority, server)

    async def start(self) -> str:
        if self.ca_store is not None:
            await self._load_shared_ca(self.ca_store)
        port = self._server.add_insecure_port(self.listen)
        if port == 0:
            raise OSError(f"control plane could not bind {self.listen}")
        self.bound = f"{self.listen.rpartition(':')[0]}:{port}"
        if self._mtls_server is not None and self._mtls_credentials is not None:
            mtls_port = self._mtls_server.add_secure_port(self.mtls_listen, self._mtls_credentials)
            if mtls_port == 0:
                raise OSError(f"control plane could not bind its mTLS port {self.mtls_listen}")
            self.mtls_bound = f"{self.mtls_listen.rpartition(':')[0]}:{mtls_port}"
            self.hub.mtls_address = f":{mtls_port}"  # the sidecars reach it at their control plane's host
        try:
            problem = await persistence_problem(self.redis)
        except OSError:
            problem = None  # Redis not reachable yet: the hub reports and retries that itself
        if problem:
            log.warning("%s", problem)
        try:  # the shared registry before the first stream: who holds which instance id
            await self.hub.refresh()
        except (RedisError, OSError) as exc:
            log.warning("registry not loaded at start (%s); the tick retries", exc)
        self.hub.start()
        await self._server.start()
        if self._mtls_server is not None:
            await self._mtls_server.start()
            log.info("mTLS port for sidecars holding a workload certificate on %s", self.mtls_bound)
        log.info("control plane %s listening on %s", self.hub.replica, self.bound)
        return self.bound

    async def stop(self, grace: float | None = 1.0) -> None:
        await self.hub.stop()
        await self._server.stop(grace)
        if self._mtls_server is not None:
            await self._mtls_server.stop(grace)
        await self.redis.aclose()
