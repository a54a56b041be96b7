"""Subscribe to events in a consumer group: acknowledgement, redelivery, a bounded dead-letter stream.

Each `fetch()` first claims (XAUTOCLAIM) the group's entries left unacknowledged for longer than
`claim_idle_ms` (a handler failed, or its consumer died): they are delivered again with their
delivery count. An entry whose delivery count would pass `max_deliveries`, or that is not an
Event at all, goes once to its dead-letter stream (`apex.mesh.contract.streams.dead_letter_key`:
`apex:dead:events:{service}`, same cluster slot, outside every read pattern, exact MAXLEN) with
the reason, and is acknowledged. Then new entries are read (XREADGROUP, one key per call, so the
keys of different services may live in different cluster slots).

`min_priority` filters for the group: an event below it is acknowledged without being delivered.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ResponseError

from apex.mesh.bus.events import Priority, decode
from apex.mesh.contract import streams
from apex.mesh.contract.entries import EntryError
from apex.mesh.v1 import telemetry_pb2

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Delivery:
    stream: str
    id: str
    event: telemetry_pb2.Event
    delivery_count: int  # 1 the first time; more when redelivered


@dataclass
class SubscriberStats:
    delivered: int = 0
    redelivered: int = 0
    acked: int = 0
    filtered: int = 0  # below min_priority: acknowledged unseen
    dead_lettered: int = 0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class EventSubscriber:
    """Consumer `consumer` of group `group` on the events of `services` (None: every service, via SCAN)."""

    def __init__(
        self,
        client: Any,
        group: str,
        consumer: str,
        *,
        services: Sequence[str] | None = None,
        min_priority: Priority = Priority.UNSPECIFIED,
        max_deliveries: int = 5,
        claim_idle_ms: int = 30_000,
        count: int = 100,
        block_ms: int = 0,
        dead_letter_maxlen: int = streams.DEAD_LETTER_MAXLEN,
    ) -> None:
        if max_deliveries < 1:
            raise ValueError(f"max_deliveries must be at least 1, got {max_deliveries}")
        self.client = client
        self.group = group
        self.consumer = consumer
        self.services = list(services) if services is not None else None
        self.min_priority = min_priority
        self.max_deliveries = max_deliveries
        self.claim_idle_ms = claim_idle_ms
        self.count = count
        self.block_ms = block_ms
        self.dead_letter_maxlen = dead_letter_maxlen
        self.stats = SubscriberStats()
        self._joined: set[str] = set()

    # --- streams and the group ----------------------------------------------------------------

    async def keys(self) -> list[str]:
        """The events streams this subscriber reads (never a dead-letter stream)."""
        if self.services is not None:
            return [streams.events_key(s) for s in self.services]
        found = {_text(k) async for k in self.client.scan_iter(match=streams.EVENTS_PATTERN, _type="stream")}
        return sorted(k for k in found if not streams.is_dead_letter(k))

    async def join(self) -> list[str]:
        """Create the group on every stream (from its start, making the stream if needed); the keys."""
        keys = await self.keys()
        for key in keys:
            if key in self._joined:
                continue
            try:
                await self.client.xgroup_create(key, self.group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
            self._joined.add(key)
        return keys

    # --- receiving ----------------------------------------------------------------------------

    async def fetch(self) -> list[Delivery]:
        """Redelivered entries first, then new ones (blocking up to block_ms per stream if none)."""
        keys = await self.join()
        out: list[Delivery] = []
        for key in keys:
            out.extend(await self._claim(key))
        for key in keys:
            if len(out) >= self.count:
                break
            reply: Any = await self.client.xreadgroup(
                self.group, self.consumer, {key: ">"}, count=self.count - len(out),
                block=self.block_ms or None,
            )  # fmt: skip
            for _, raw in reply or []:
                for raw_id, fields in raw:
                    delivery = await self._accept(key, _text(raw_id), fields, 1)
                    if delivery is not None:
                        out.append(delivery)
        self.stats.delivered += len(out)
        return out

    async def ack(self, *deliveries: Delivery) -> None:
        by_stream: dict[str, list[str]] = {}
        for d in deliveries:
            by_stream.setdefault(d.stream, []).append(d.id)
        for stream, ids in by_stream.items():
            await self.client.xack(stream, self.group, *ids)
            self.stats.acked += len(ids)

    async def run_once(self, handler: Callable[[Delivery], Awaitable[None]]) -> int:
        """Fetch and hand each delivery to `handler`: acknowledged when it returns, left for redelivery
        when it raises. The number handled successfully."""
        done = 0
        for delivery in await self.fetch():
            try:
                await handler(delivery)
            except Exception:
                log.exception("events: handler failed on %s %s (delivery %d)", delivery.stream, delivery.id,
                              delivery.delivery_count)  # fmt: skip
                continue
            await self.ack(delivery)
            done += 1
        return done

    # --- internals ----------------------------------------------------------------------------

    async def _claim(self, key: str) -> list[Delivery]:
        out: list[Delivery] = []
        start = "0-0"
        while True:
            reply: Any = await self.client.xautoclaim(
                key, self.group, self.consumer, self.claim_idle_ms, start_id=start, count=self.count
            )
            start, raw = _text(reply[0]), [e for e in reply[1] if e and e[1] is not None]
            trimmed = [e[0] for e in reply[1] if e and e[1] is None]  # Redis 6: trimmed away while pending
            if trimmed:
                await self.client.xack(key, self.group, *trimmed)
            counts = await self._delivery_counts(key, [_text(i) for i, _ in raw])
            for raw_id, fields in raw:
                entry_id = _text(raw_id)
                delivery = await self._accept(key, entry_id, fields, counts.get(entry_id, 1))
                if delivery is not None:
                    out.append(delivery)
                    self.stats.redelivered += 1
            if start == "0-0" or not reply[1]:
                return out

    async def _delivery_counts(self, key: str, ids: list[str]) -> dict[str, int]:
        if not ids:
            return {}
        rows: Any = await self.client.xpending_range(key, self.group, min=ids[0], max=ids[-1], count=len(ids) * 2 + 10)
        return {_text(r["message_id"]): int(r["times_delivered"]) for r in rows}

    async def _accept(self, key: str, entry_id: str, fields: dict[bytes, bytes], count: int) -> Delivery | None:
        try:
            event = decode(fields)
        except EntryError as exc:
            await self._dead_letter(key, entry_id, fields, f"not an Event: {exc}")
            return None
        if count > self.max_deliveries:
            reason = f"not acknowledged after {count - 1} deliveries (max_deliveries={self.max_deliveries})"
            await self._dead_letter(key, entry_id, fields, reason)
            return None
        if event.priority < self.min_priority:
            await self.client.xack(key, self.group, entry_id)
            self.stats.filtered += 1
            return None
        return Delivery(key, entry_id, event, count)

    async def _dead_letter(self, key: str, entry_id: str, fields: dict[bytes, bytes], reason: str) -> None:
        dead = streams.dead_letter_key(key)
        log.warning("events: %s %s moved to %s: %s", key, entry_id, dead, reason)
        copy: Any = streams.dead_letter_fields(key, entry_id, fields, reason)
        async with self.client.pipeline(transaction=True) as pipe:  # one slot: the key keeps the hash tag
            pipe.xadd(dead, copy, maxlen=self.dead_letter_maxlen, approximate=False)
            pipe.xack(key, self.group, entry_id)
            await pipe.execute()
        self.stats.dead_lettered += 1
