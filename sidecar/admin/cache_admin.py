"""The CacheAdmin gRPC service: response cache stats per method, and purges."""

from __future__ import annotations

from typing import Any

import grpc
from apex.mesh.v1 import cache_pb2, cache_pb2_grpc

from sidecar.layers.cache.state import CacheSnapshot, CacheState


def stats_message(snapshot: CacheSnapshot) -> cache_pb2.CacheStats:
    """The protobuf form of a cache snapshot."""
    stats = cache_pb2.CacheStats(
        entries=snapshot.entries, bytes=snapshot.bytes, max_entries=snapshot.max_entries, max_bytes=snapshot.max_bytes
    )
    for m in snapshot.methods:
        stats.methods.add(
            method=m.method,
            rule=m.rule,
            enforced=m.enforced,
            hits=m.hits,
            misses=m.misses,
            coalesced=m.coalesced,
            stale_while_revalidate=m.stale_while_revalidate,
            stale_if_error=m.stale_if_error,
            bypasses=m.bypasses,
            stores=m.stores,
            not_stored=m.not_stored,
            revalidations=m.revalidations,
            evictions=m.evictions,
            expirations=m.expirations,
            purged=m.purged,
            entries=m.entries,
            bytes=m.bytes,
        )
    return stats


class CacheAdminServicer(cache_pb2_grpc.CacheAdminServicer):
    def __init__(self, cache: CacheState) -> None:
        self._cache = cache

    async def GetCacheStats(self, request: cache_pb2.GetCacheStatsRequest, context: Any) -> cache_pb2.CacheStats:
        return stats_message(self._cache.snapshot())

    async def PurgeCache(self, request: cache_pb2.PurgeCacheRequest, context: Any) -> cache_pb2.PurgeCacheResponse:
        target = request.WhichOneof("target")
        if target is None or (target == "all" and not request.all):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "target: set one of method, key_prefix or all: true")
        if target == "method" and not request.method.startswith("/"):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"method: expected '/pkg.Service/Method', got {request.method!r}"
            )
        if target == "key_prefix" and not request.key_prefix:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "key_prefix: must not be empty (use all: true)")
        purged = self._cache.purge(method=request.method, key_prefix=request.key_prefix)
        return cache_pb2.PurgeCacheResponse(purged=purged)


def add_to_server(server: grpc.aio.Server, cache: CacheState) -> None:
    cache_pb2_grpc.add_CacheAdminServicer_to_server(CacheAdminServicer(cache), server)
