"""`redis+cluster://` URLs: the bus connects a Cluster client, the sidecar's telemetry settings accept them."""

from __future__ import annotations

import pytest
from apex.mesh.bus.connect import connect, is_cluster_url
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from sidecar.config.bootstrap import parse_yaml
from sidecar.policy.errors import ConfigError
from sidecar.telemetry.settings import observability


def test_cluster_urls_make_cluster_clients() -> None:
    assert is_cluster_url("redis+cluster://h:7000") and is_cluster_url("rediss+cluster://h:7000")
    assert not is_cluster_url("redis://h:6379/0")
    assert isinstance(connect("redis+cluster://127.0.0.1:7000"), RedisCluster)  # lazy: connects on first use
    single = connect("redis://127.0.0.1:6379/0")
    assert isinstance(single, Redis) and not isinstance(single, RedisCluster)


def test_sidecar_telemetry_accepts_a_cluster_url_and_still_names_bad_schemes() -> None:
    ok = observability(parse_yaml("telemetry: {redis_url: 'redis+cluster://redis-0:6379'}\n", "s.yaml"))
    assert ok.telemetry.redis_url == "redis+cluster://redis-0:6379"
    with pytest.raises(ConfigError) as bad:
        observability(parse_yaml("telemetry: {redis_url: 'http://x:1'}\n", "s.yaml"))
    assert "telemetry.redis_url" in str(bad.value) and "redis+cluster://" in str(bad.value)
