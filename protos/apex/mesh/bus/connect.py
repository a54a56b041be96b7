"""One redis.asyncio client from a URL: `redis://...` a single Redis, `redis+cluster://host:port` a Cluster.

A Cluster URL names any one node; the client discovers the others. Every Apex key carries its
service in braces (`apex:events:{checkout}`), a hash tag: a service's streams and dead letters
share one slot, so per-service pipelines and transactions stay on one node.
"""

from __future__ import annotations

from typing import Any

CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


def is_cluster_url(url: str) -> bool:
    return url.split("://", 1)[0] in CLUSTER_SCHEMES


def connect(url: str, **options: Any) -> Any:
    """redis.asyncio.Redis or redis.asyncio.RedisCluster for `url`; `options` go to the client."""
    scheme, sep, rest = url.partition("://")
    if scheme in CLUSTER_SCHEMES:
        from redis.asyncio.cluster import RedisCluster

        return RedisCluster.from_url(f"{CLUSTER_SCHEMES[scheme]}{sep}{rest}", **options)
    import redis.asyncio as aioredis

    return aioredis.from_url(url, **options)
