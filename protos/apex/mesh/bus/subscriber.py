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

from apex.mesh.bus.events import Priority, decode
from apex.mesh.contract import groups, streams
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
        found = {groups.text(k) async for k in self.client.scan_iter(match=streams.EVENTS_PATTERN, _type="stream")}
        return sorted(k for k in found if not streams.is_dead_letter(k))

    async def join(self) -> list[str]:
        """Create the group on every stream (from its start, making the stream if needed); the keys."""
        keys = await self.keys()
        for key in keys:
            if key not in self._joined:
                await groups.join(self.client, key, self.group)
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
                    delivery = await self._accept(key, groups.text(raw_id), fields, 1)
                    if delivery is not None:
                        out.append(delivery)
        self.stats.delivered += len(out)
        return out

    async def ack(self, *deliveries: Delivery) -> None:
        self.stats.acked += await groups.ack(self.client, self.group, ((d.stream, d.id) for d in deliveries))

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
        async for page in groups.claim(self.client, key, self.group, self.consumer, self.claim_idle_ms, self.count):
            counts = await self._delivery_counts(key, [groups.text(i) for i, _ in page])
            for raw_id, fields in page:
                entry_id = groups.text(raw_id)
                delivery = await self._accept(key, entry_id, fields, counts.get(entry_id, 1))
                if delivery is not None:
                    out.append(delivery)
                    self.stats.redelivered += 1
        return out

    async def _delivery_counts(self, key: str, ids: list[str]) -> dict[str, int]:
        if not ids:
            return {}
        rows: Any = await self.client.xpending_range(key, self.group, min=ids[0], max=ids[-1], count=len(ids) * 2 + 10)
        return {groups.text(r["message_id"]): int(r["times_delivered"]) for r in rows}

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
        await groups.dead_letter(self.client, key, self.group, entry_id, fields, reason,
                                 maxlen=self.dead_letter_maxlen)  # fmt: skip
        self.stats.dead_lettered += 1
