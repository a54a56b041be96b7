"""The event bus on a real Redis: round trip, ack/redelivery/dead letter, priority filter, outage buffer."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis
from apex.mesh.bus import Delivery, EventPublisher, EventSubscriber, Priority, decode
from apex.mesh.contract import streams
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from sidecar.support.redis_server import RedisServer

pytestmark = pytest.mark.integration


def fresh_service() -> str:
    return f"bus-{uuid.uuid4().hex[:8]}"


def test_publish_subscribe_round_trip_with_correlation_id(redis_url: str) -> None:
    async def run() -> None:
        client = aioredis.from_url(redis_url)
        service = fresh_service()
        pub = EventPublisher(client, service, "i-1", clock=lambda: 1_700_000_000.5)
        sub = EventSubscriber(client, "audit", "a-1", services=[service])
        await sub.join()
        sent = await pub.publish(
            "service.health_degraded", priority=Priority.HIGH, correlation_id="inc-42",
            message="p99 over 2s", attributes={"p99_ms": "2100"}, route="checkout",
        )  # fmt: skip
        assert sent is not None
        got = await sub.fetch()
        assert [(d.id, d.delivery_count) for d in got] == [(sent, 1)]
        event = got[0].event
        assert (event.kind, event.priority, event.correlation_id) == (
            "service.health_degraded",
            Priority.HIGH,
            "inc-42",
        )
        assert (event.service, event.instance, event.route, event.sequence) == (service, "i-1", "checkout", 1)
        assert dict(event.attributes) == {"p99_ms": "2100"} and event.time.ToNanoseconds() == 1_700_000_000_500_000_000
        await sub.ack(*got)
        assert await sub.fetch() == []
        other = EventSubscriber(client, "pager", "p-1", services=[service])  # another group sees every event
        assert [d.id for d in await other.fetch()] == [sent]
        await client.aclose()

    asyncio.run(run())


def test_unacked_events_are_redelivered_then_dead_lettered_after_max_deliveries(redis_url: str) -> None:
    async def run() -> None:
        client = aioredis.from_url(redis_url)
        service = fresh_service()
        pub = EventPublisher(client, service)
        sub = EventSubscriber(client, "g", "c-1", services=[service], max_deliveries=3, claim_idle_ms=0)
        await sub.join()
        poison = await pub.publish("order.placed", message="handler always fails")
        fine = await pub.publish("order.placed", message="handler succeeds")

        async def handler(d: Delivery) -> None:
            if d.event.message == "handler always fails":
                raise RuntimeError("boom")

        counts: list[int] = []
        for _ in range(4):
            batch = await sub.fetch()
            counts += [d.delivery_count for d in batch if d.id == poison]
            for d in batch:
                try:
                    await handler(d)
                except RuntimeError:
                    continue
                await sub.ack(d)
        assert counts == [1, 2, 3]  # delivered 3 times, then not again
        assert sub.stats.dead_lettered == 1 and sub.stats.redelivered == 2
        dead = await client.xrange(streams.dead_letter_key(streams.events_key(service)))
        assert len(dead) == 1
        fields = dead[0][1]
        assert fields[b"source_id"] == poison.encode() and b"after 3 deliveries" in fields[b"reason"]
        assert fields[b"source_stream"] == streams.events_key(service).encode()
        pending = await client.xpending(streams.events_key(service), "g")
        assert pending["pending"] == 0 and fine is not None
        # A consumer that dies with an unacked event: another consumer of the group gets it.
        late = await pub.publish("order.placed", message="crash before ack")
        assert [d.id for d in await sub.fetch()] == [late]
        survivor = EventSubscriber(client, "g", "c-2", services=[service], claim_idle_ms=0)
        handled = await survivor.run_once(handler)
        assert handled == 1 and await client.xpending(streams.events_key(service), "g") == {
            "pending": 0, "min": None, "max": None, "consumers": []}  # fmt: skip
        await client.aclose()

    asyncio.run(run())


def test_priority_filter_acknowledges_lower_events_unseen(redis_url: str) -> None:
    async def run() -> None:
        client = aioredis.from_url(redis_url)
        service = fresh_service()
        pub = EventPublisher(client, service)
        sub = EventSubscriber(client, "pager", "p", services=[service], min_priority=Priority.HIGH)
        await sub.join()
        for priority in (Priority.LOW, Priority.HIGH, Priority.MEDIUM, Priority.CRITICAL):
            await pub.publish("x", priority=priority)
        got = await sub.fetch()
        assert [d.event.priority for d in got] == [Priority.HIGH, Priority.CRITICAL]
        assert sub.stats.filtered == 2
        await sub.ack(*got)
        assert (await client.xpending(streams.events_key(service), "pager"))["pending"] == 0
        await client.aclose()

    asyncio.run(run())


def test_outage_buffers_in_order_counts_overflow_and_flushes_on_return(redis_server: RedisServer) -> None:
    async def run() -> None:
        client = aioredis.from_url(
            redis_server.url, socket_connect_timeout=0.5, socket_timeout=0.5, retry=Retry(NoBackoff(), 0)
        )
        service = fresh_service()
        pub = EventPublisher(client, service, buffer_size=4)
        assert await pub.publish("before", priority=Priority.MEDIUM) is not None
        redis_server.stop()
        for i in range(5):
            assert await pub.publish(f"during-{i}", priority=Priority.MEDIUM) is None
        stats = pub.stats
        assert (stats.buffered, stats.pending, stats.dropped) == (5, 4, 1)  # during-0 made room
        assert stats.dropped_by_priority == {"MEDIUM": 1}
        assert not await pub.flush()  # still down: nothing lost
        redis_server.start()
        assert await pub.publish("after", priority=Priority.MEDIUM) is not None  # flushes first
        kinds = [decode(fields).kind for _, fields in await client.xrange(streams.events_key(service))]
        assert kinds == ["during-1", "during-2", "during-3", "during-4", "after"]  # 'before' died with Redis
        stats = pub.stats
        assert (stats.flushed, stats.pending, stats.dropped, stats.published) == (4, 0, 1, 6)
        await client.aclose()

    asyncio.run(run())
