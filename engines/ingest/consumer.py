"""Read Redis Streams with a consumer group: new entries, pending entries of dead consumers,
and bad entries moved to a dead-letter stream with the reason (nothing is silently lost).

Engines scale out by running several consumers in one group: each entry goes to one of them,
and entries a crashed consumer never acknowledged are claimed by the others after `claim_idle`.

Dead letters (`apex.mesh.contract.streams`): a bad entry of stream S goes, once, to
`dead_letter(S)` (by default `apex:dead:...`, same cluster slot as S), which must not match the
read pattern: the consumer refuses to write one it would read back, and never reads keys under
`apex:dead:`. Each dead-letter stream is trimmed to an exact MAXLEN, each dead letter keeps at
most `payload_cap` bytes of the bad entry's fields (with its full size and a truncated flag).

On a Redis Cluster (redis.asyncio.RedisCluster) one XREADGROUP may only name keys of one slot:
reads go one call per slot, concurrently, without blocking first, and block only when all were
empty. Every other command names one stream (or one stream and its same-slot dead letters).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import redis.asyncio as aioredis
from apex.mesh.contract import groups, streams
from apex.mesh.contract.groups import text as _text
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BadEntry:
    """An entry that could not be decoded, and why."""

    reason: str


@dataclass(frozen=True, slots=True)
class Entry(Generic[T]):
    stream: str
    id: str
    value: T


class StreamConsumer(Generic[T]):
    """One consumer of group `group` over the streams matching `pattern` (e.g. apex:telemetry:*)."""

    def __init__(
        self,
        client: aioredis.Redis,
        pattern: str,
        group: str,
        consumer: str,
        decode: Callable[[dict[bytes, bytes]], T | BadEntry],
        dead_letter: Callable[[str], str] = streams.dead_letter_key,
        count: int = 200,
        block_ms: int = 500,
        claim_idle_ms: int = 30_000,
        dead_letter_maxlen: int = streams.DEAD_LETTER_MAXLEN,
        payload_cap: int = streams.DEAD_LETTER_PAYLOAD_CAP,
    ) -> None:
        self.client = client
        self.pattern = pattern
        self.group = group
        self.consumer = consumer
        self.decode = decode
        self.dead_letter = dead_letter
        self.count = count
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.dead_letter_maxlen = dead_letter_maxlen
        self.payload_cap = payload_cap
        self.streams: set[str] = set()
        self.dead_lettered = 0

    async def discover(self) -> set[str]:
        """Find streams matching the pattern and make sure the group exists on each."""
        found: set[str] = set()
        async for key in self.client.scan_iter(match=self.pattern, _type="stream"):
            if not streams.is_dead_letter(_text(key)):  # never read dead letters back
                found.add(_text(key))
        for stream in found - self.streams:
            await groups.join(self.client, stream, self.group)
        self.streams |= found
        return found

    async def _accept(self, stream: str, raw: list[Any]) -> list[Entry[T]]:
        good: list[Entry[T]] = []
        for raw_id, fields in raw:
            if fields is None:  # trimmed away while pending: nothing left to read
                await self.client.xack(stream, self.group, raw_id)
                continue
            entry_id = _text(raw_id)
            value = self.decode(fields)
            if isinstance(value, BadEntry):
                await self._dead_letter(stream, entry_id, fields, value.reason)
                continue
            good.append(Entry(stream, entry_id, value))
        return good

    async def _dead_letter(self, stream: str, entry_id: str, fields: dict[bytes, bytes], reason: str) -> None:
        key = self.dead_letter(stream)
        if streams.matches(self.pattern, key):
            raise ValueError(f"dead-letter stream {key!r} matches the read pattern {self.pattern!r}: it would loop")
        await groups.dead_letter(
            self.client, stream, self.group, entry_id, fields, reason,
            key=key, maxlen=self.dead_letter_maxlen, payload_cap=self.payload_cap,
        )  # fmt: skip
        self.dead_lettered += 1

    async def read(self) -> list[Entry[T]]:
        """New entries for this consumer (blocks up to block_ms when there are none)."""
        if not self.streams:
            await self.discover()
            if not self.streams:
                return []
        reply: Any
        if isinstance(self.client, RedisCluster):
            reply = await self._read_per_slot()
        else:
            reply = await self.client.xreadgroup(
                self.group, self.consumer, {s: ">" for s in sorted(self.streams)}, count=self.count,
                block=self.block_ms,
            )  # fmt: skip
        entries: list[Entry[T]] = []
        for stream, raw in reply or []:
            entries.extend(await self._accept(_text(stream), raw))
        return entries

    async def _read_per_slot(self) -> list[Any]:
        slots: dict[int, list[str]] = {}
        for stream in sorted(self.streams):
            slots.setdefault(key_slot(stream.encode()), []).append(stream)

        async def sweep(block: int | None) -> list[Any]:
            replies: list[Any] = await asyncio.gather(
                *(
                    self.client.xreadgroup(
                        self.group, self.consumer, {s: ">" for s in keys}, count=self.count, block=block
                    )
                    for keys in slots.values()
                )
            )
            return [item for reply in replies for item in reply or []]

        return await sweep(None) or await sweep(self.block_ms or None)

    async def pending(self) -> list[Entry[T]]:
        """This consumer's own entries delivered before but never acknowledged (e.g. before a restart
        under the same consumer name), oldest first: to be processed again, not dropped."""
        if not self.streams:
            await self.discover()
        entries: list[Entry[T]] = []
        for stream in sorted(self.streams):
            start = "0"
            while True:
                reply: Any = await self.client.xreadgroup(self.group, self.consumer, {stream: start}, count=self.count)
                raw = reply[0][1] if reply else []
                if not raw:
                    break
                entries.extend(await self._accept(stream, raw))
                start = _text(raw[-1][0])
        return entries

    async def recover(self) -> list[Entry[T]]:
        """Claim entries other consumers left unacknowledged for longer than claim_idle_ms."""
        entries: list[Entry[T]] = []
        for stream in sorted(self.streams):
            async for page in groups.claim(self.client, stream, self.group, self.consumer, self.claim_idle_ms,
                                           self.count):  # fmt: skip
                entries.extend(await self._accept(stream, page))
        return entries

    async def ack(self, entries: list[Entry[T]]) -> None:
        await groups.ack(self.client, self.group, ((e.stream, e.id) for e in entries))
