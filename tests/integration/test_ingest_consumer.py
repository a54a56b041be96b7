"""The consumer group reader on a real Redis: delivery, dead letters, recovery of a dead consumer."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from engines.ingest.consumer import BadEntry, StreamConsumer


def decode(fields: dict[bytes, bytes]) -> int | BadEntry:
    raw = fields.get(b"n")
    if raw is None or not raw.isdigit():
        return BadEntry(f"'n' must be a number, got {raw!r}")
    return int(raw)


def test_group_delivery_dead_letter_and_recovery(redis_url: str) -> None:
    async def run() -> None:
        client = aioredis.from_url(redis_url)
        await client.delete("t:ingest:{a}", "t:ingest:{b}", "t:dead:{b}")
        for i in range(5):
            await client.xadd("t:ingest:{a}", {"n": str(i)})
        await client.xadd("t:ingest:{b}", {"n": "x"})
        await client.xadd("t:ingest:{b}", {"n": "7"})

        def consumer(name: str) -> StreamConsumer[int]:
            return StreamConsumer(
                client, "t:ingest:*", "g", name, decode, lambda s: "t:dead:{b}", block_ms=50, claim_idle_ms=100
            )

        crashed = consumer("crashed")
        got = await crashed.read()
        assert sorted(e.value for e in got) == [0, 1, 2, 3, 4, 7]  # the bad one went to the dead letters
        dead = await client.xrange("t:dead:{b}")
        assert len(dead) == 1 and dead[0][1][b"reason"] == b"'n' must be a number, got b'x'"
        assert dead[0][1][b"field:n"] == b"x" and dead[0][1][b"source_stream"] == b"t:ingest:{b}"

        survivor = consumer("survivor")
        await survivor.discover()
        assert await survivor.read() == []  # nothing new: the crashed consumer holds them
        await asyncio.sleep(0.2)
        recovered = await survivor.recover()
        assert sorted(e.value for e in recovered) == [0, 1, 2, 3, 4, 7]
        await survivor.ack(recovered)
        assert (await client.xpending("t:ingest:{a}", "g"))["pending"] == 0
        await client.xadd("t:ingest:{a}", {"n": "9"})
        assert [e.value for e in await survivor.read()] == [9]
        await client.aclose()

    asyncio.run(run())


def test_a_dead_letter_stream_the_consumer_would_read_back_is_refused(redis_url: str) -> None:
    async def run() -> None:
        client = aioredis.from_url(redis_url)
        await client.delete("t:loop:{a}", "t:loop:{dead}")
        await client.xadd("t:loop:{a}", {"n": "x"})
        looping = StreamConsumer(client, "t:loop:*", "g", "c", decode, lambda s: "t:loop:{dead}", block_ms=50)
        try:
            await looping.read()
            raise AssertionError("a dead letter inside the read pattern was accepted")
        except ValueError as exc:
            assert "matches the read pattern" in str(exc)
        assert not await client.exists("t:loop:{dead}")
        await client.aclose()

    asyncio.run(run())
