"""Dead letters on a real Redis with the real forecaster (issue 10 hardening a).

A malformed entry used to be dead-lettered into `apex:telemetry:dead`, which matches the
forecaster's own read pattern `apex:telemetry:*`: every rediscovery read the dead letter back,
found it malformed and dead-lettered it again, each copy bigger than the last. Dead letters must
sit outside every read pattern, be bounded (stream length and payload kept) and carry the reason
once.
"""

from __future__ import annotations

import asyncio
import fnmatch
from collections.abc import Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from apex.mesh.v1 import telemetry_pb2

from engines.forecast.runner import Runner, RunnerConfig
from sidecar.support.redis_server import RedisServer

pytestmark = pytest.mark.integration

NO_CONTROL_PLANE = "127.0.0.1:9"  # the runner only calls it to act on a spike: never here


@pytest.fixture
def redis_url() -> Iterator[str]:
    server = RedisServer().start()  # private: the test counts every key in it
    yield server.url
    server.close()


async def _streams(client: aioredis.Redis) -> dict[str, list[tuple[bytes, dict[bytes, bytes]]]]:
    out: dict[str, list[tuple[bytes, dict[bytes, bytes]]]] = {}
    async for key in client.scan_iter(_type="stream"):
        name = key.decode()
        out[name] = await client.xrange(name)
    return out


async def _run_forecaster(runner: Runner, rounds: int) -> None:
    """What `Runner.run` does, without its 10 s timer: rediscover, recover, step — `rounds` times."""
    for _ in range(rounds):
        await runner.consumer.discover()
        runner.ingest(await runner.consumer.recover())  # a dead peer's entries are counted, not skipped
        await runner.step(0.0)


def _dead_letters(streams: dict[str, list[tuple[bytes, dict[bytes, bytes]]]]) -> dict[str, list[dict[bytes, bytes]]]:
    """Every stream entry that carries a `reason` (a dead letter), by stream."""
    out: dict[str, list[dict[bytes, bytes]]] = {}
    for name, entries in streams.items():
        found = [fields for _, fields in entries if b"reason" in fields]
        if found:
            out[name] = found
    return out


def test_a_malformed_entry_is_dead_lettered_once_outside_the_read_pattern(redis_url: str) -> None:
    async def scenario() -> None:
        runner = Runner(redis_url, NO_CONTROL_PLANE)
        client: Any = runner.redis
        try:
            await client.xadd("apex:telemetry:{x}", {"foo": "bar"})  # the entry from the report
            await _run_forecaster(runner, rounds=6)
            streams = await _streams(client)
        finally:
            await runner.close()
        dead = _dead_letters(streams)
        assert sum(map(len, dead.values())) == 1, {k: len(v) for k, v in dead.items()}
        [(key, [letter])] = dead.items()
        assert not fnmatch.fnmatchcase(key, runner.consumer.pattern), f"dead letters in {key} are read back"
        assert key == "apex:dead:telemetry:{x}"
        assert letter[b"reason"].startswith(b"no 'window' field")
        assert letter[b"source_stream"] == b"apex:telemetry:{x}"
        assert [k for k in letter if k.startswith(b"field:")] == [b"field:foo"]  # the original, not nested
        assert runner.consumer.dead_lettered == 1

    asyncio.run(scenario())


def test_dead_letters_are_bounded_in_payload_and_length(redis_url: str) -> None:
    async def scenario() -> None:
        runner = Runner(redis_url, NO_CONTROL_PLANE)
        runner.consumer.dead_letter_maxlen = 50  # the default (10,000) the same way, only faster
        client: Any = runner.redis
        try:
            await client.xadd("apex:telemetry:{big}", {"foo": b"x" * 2_000_000})  # 2 MB of garbage
            for i in range(120):  # more bad entries than a dead-letter stream may keep
                await client.xadd("apex:telemetry:{many}", {"n": str(i)})
            await _run_forecaster(runner, rounds=3)
            while await runner.consumer.read():  # drain
                pass
            streams = await _streams(client)
        finally:
            await runner.close()
        dead = _dead_letters(streams)
        big = [
            letter
            for letters in dead.values()
            for letter in letters
            if letter[b"source_stream"] == b"apex:telemetry:{big}"
        ]
        assert len(big) == 1
        kept = sum(len(k) + len(v) for k, v in big[0].items())
        assert kept <= 8192, f"a dead letter keeps {kept} bytes of a 2 MB entry"
        assert big[0][b"size"] == b"2000003" and big[0][b"truncated"] == b"1"
        assert big[0][b"field:foo"] == b"x" * (4096 - 3)
        many = [
            letter
            for letters in dead.values()
            for letter in letters
            if letter[b"source_stream"] == b"apex:telemetry:{many}"
        ]
        assert len(many) == 50 and many[-1][b"field:n"] == b"119"  # the newest kept
        assert runner.consumer.dead_lettered == 121

    asyncio.run(scenario())


def test_a_poisoned_window_is_dead_lettered_by_the_engine(redis_url: str) -> None:
    """A well-formed protobuf whose histogram cannot be decoded is a bad entry, not a crash."""

    async def scenario() -> None:
        runner = Runner(redis_url, NO_CONTROL_PLANE)
        client: Any = runner.redis
        w = telemetry_pb2.TelemetryWindow(service="p", instance="p-1", sequence=1)
        w.window_start.FromSeconds(1_700_000_000)
        r = w.routes.add(listener="inbound", route="r", cluster="c")
        r.stats.calls = 1
        r.stats.latency.scheme, r.stats.latency.offset = 1, 2**31 - 1
        r.stats.latency.counts.append(1)
        r.stats.latency.count = 1
        try:
            await client.xadd("apex:telemetry:{p}", {"window": w.SerializeToString()})
            await _run_forecaster(runner, rounds=3)
            streams = await _streams(client)
        finally:
            await runner.close()
        dead = _dead_letters(streams)
        [(_, [letter])] = dead.items()
        assert b"offset" in letter[b"reason"], letter[b"reason"]
        assert runner.consumer.dead_lettered == 1

    asyncio.run(scenario())


def test_a_running_forecaster_dead_letters_a_bad_entry_once(redis_url: str) -> None:
    """The real `Runner.run` loop, rediscovering every 50 ms for 2 s (~40 rounds)."""

    async def scenario() -> None:
        runner = Runner(redis_url, NO_CONTROL_PLANE, RunnerConfig(rediscover_every=0.05))
        client: Any = runner.redis
        stop = asyncio.Event()
        try:
            await client.xadd("apex:telemetry:{x}", {"foo": "bar"})
            task = asyncio.create_task(runner.run(stop))
            await asyncio.sleep(2.0)
            stop.set()
            await asyncio.wait_for(task, 10)
            streams = await _streams(client)
        finally:
            await runner.close()
        assert {k: len(v) for k, v in _dead_letters(streams).items()} == {"apex:dead:telemetry:{x}": 1}
        assert runner.consumer.dead_lettered == 1

    asyncio.run(scenario())
