"""The publisher against a real Redis that requires AUTH (password in the URL), in process."""

from __future__ import annotations

import asyncio

import pytest
import redis
import redis.asyncio as aioredis

from sidecar.core.call import Code
from sidecar.support.redis_server import RedisServer
from sidecar.telemetry.publisher import Publisher
from sidecar.telemetry.reader import read_windows
from sidecar.telemetry.registry import Registry
from sidecar.telemetry.settings import Telemetry
from sidecar.telemetry.window import Identity

pytestmark = pytest.mark.integration


def test_publishes_with_a_password_from_the_url_and_refuses_without(redis_server: RedisServer) -> None:
    admin = redis.Redis(port=redis_server.port)
    admin.config_set("requirepass", "s3cret")
    admin.close()
    authed = f"redis://:s3cret@127.0.0.1:{redis_server.port}/0"
    anonymous = f"redis://127.0.0.1:{redis_server.port}/0"

    async def publish(url: str) -> Publisher:
        registry = Registry(clock=lambda: 0.0)
        series = registry.route("outbound", "r", "c")
        publisher = Publisher(Telemetry(redis_url=url, window=60.0), registry, Identity("authed", "authed-1"))
        series.start()
        series.finish(Code.OK, 0.002)
        publisher.start()  # the ticker would wait 60 s: roll by hand
        publisher.roll()
        await publisher.stop(flush_timeout=5.0)
        return publisher

    async def read() -> int:
        client = aioredis.from_url(authed)
        try:
            windows, bad = await read_windows(client, "authed")
        finally:
            await client.aclose()
        assert not bad
        return sum(r.stats.calls for _, w in windows for r in w.routes)

    refused = asyncio.run(publish(anonymous))
    assert refused.stats.windows_published == 0 and len(refused.windows) > 0  # kept, not lost
    accepted = asyncio.run(publish(authed))
    assert accepted.stats.windows_published == 2 and len(accepted.windows) == 0  # rolled + final window
    assert asyncio.run(read()) == 1
