"""The CertificateAuthority service: operators rotate and retire the mesh CA's roots; sidecars get the bundle."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import grpc
from apex.mesh.v1 import control_pb2, control_pb2_grpc
from cryptography.hazmat.primitives import hashes
from redis.exceptions import RedisError

from engines.control import authn
from engines.control.ca_sync import CaConflict
from engines.control.hub import Hub
from engines.security.ca import MeshCA

log = logging.getLogger(__name__)


class CertificateAuthorityServicer(control_pb2_grpc.CertificateAuthorityServicer):
    def __init__(self, hub: Hub, ca_dir: str = "") -> None:
        self.hub = hub
        self.ca_dir = ca_dir

    async def _ca(self, context: Any, write: bool) -> MeshCA:
        principal = authn.current()
        if write and principal.kind not in ("operator", "insecure"):
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"apex: {principal} may not change the mesh CA")
        if self.hub.ca is None:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION, "apex: this control plane runs no CA (--ca-dir or --ca-store)"
            )
        assert self.hub.ca is not None
        return self.hub.ca

    def _status(self, ca: MeshCA) -> control_pb2.CaStatus:
        status = control_pb2.CaStatus(trust_domain=ca.trust_domain, workload_ttl_seconds=ca.workload_ttl)
        for root in ca.roots:
            entry = status.roots.add(
                subject=root.cert.subject.rfc4514_string(),
                fingerprint_sha256=root.cert.fingerprint(hashes.SHA256()).hex(),
            )
            entry.not_after.FromDatetime(root.cert.not_valid_after_utc.replace(tzinfo=None))
        return status

    async def _change(self, context: Any, what: str, change: Callable[[MeshCA], None]) -> control_pb2.CaStatus:
        """Apply `change`: to the CA in the store (compare-and-set; every replica adopts it and tells its
        sidecars), or to this replica's own CA (saved to --ca-dir; its sidecars are told)."""
        ca = await self._ca(context, write=True)
        sync = self.hub.ca_sync
        if sync is not None:
            try:
                version = await sync.update(change)
            except CaConflict as exc:
                await context.abort(grpc.StatusCode.ABORTED, f"apex: {exc}")
            except (RedisError, OSError) as exc:
                await context.abort(grpc.StatusCode.UNAVAILABLE, f"apex: the CA store is unavailable: {exc}")
            except ValueError as exc:
                await context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"apex: {exc}")
            where = f"version {version} in the store"
        else:
            change(ca)
            if self.ca_dir:
                ca.save(self.ca_dir)
            self.hub.announce_bundle()
            where = self.ca_dir or "memory"
        log.warning(
            "mesh CA %s by %s (%s): %d root(s) trusted; bundle sent to %d sidecar(s)",
            what,
            authn.current(),
            where,
            len(ca.roots),
            len(self.hub.sessions),
        )
        return self._status(ca)

    async def Rotate(self, request: control_pb2.CaRequest, context: Any) -> control_pb2.CaStatus:
        return await self._change(context, "rotated", lambda ca: ca.rotate(self.hub.clock()))

    async def Retire(self, request: control_pb2.CaRequest, context: Any) -> control_pb2.CaStatus:
        return await self._change(context, "retired its old roots", MeshCA.retire)

    async def Status(self, request: control_pb2.CaRequest, context: Any) -> control_pb2.CaStatus:
        return self._status(await self._ca(context, write=False))
