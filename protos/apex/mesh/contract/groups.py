"""Consumer-group mechanics on Redis Streams shared by the event bus's subscriber
(apex.mesh.bus.subscriber) and the engines' stream consumer (engines/ingest/consumer.py).

- `join`: create the group on a stream from its start (making the stream if needed), once;
- `claim`: take over entries other consumers left unacknowledged for longer than an idle time
  (XAUTOCLAIM, page by page); entries trimmed away while pending are acknowledged on the way;
- `dead_letter`: move a bad entry to its dead-letter stream with the reason and acknowledge it,
  in one MULTI/EXEC (the dead-letter key keeps the source's hash tag: one cluster slot);
- `ack`: acknowledge entries, one XACK per stream.

The client is a redis.asyncio Redis or RedisCluster (typed Any: both have these commands).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from redis.exceptions import ResponseError

from apex.mesh.contract import streams

log = logging.getLogger(__name__)

RawEntry = tuple[Any, dict[bytes, bytes]]  # (entry id as Redis returned it, its fields)


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def join(client: Any, stream: str, group: str) -> None:
    """Create `group` on `stream` from its first entry; a group that exists already is fine."""
    try:
        await client.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def claim(
    client: Any, stream: str, group: str, consumer: str, idle_ms: int, count: int
) -> AsyncIterator[list[RawEntry]]:
    """Pages of entries of `stream` idle for at least `idle_ms`, now owned by `consumer`.

    1. XAUTOCLAIM from 0-0, `count` at a time, until Redis answers the cursor 0-0.
    2. Entries whose fields are gone (trimmed away while pending; Redis 6 answers them with
       nil fields, Redis 7 leaves them out) are acknowledged and not yielded.
    """
    start = "0-0"
    while True:
        reply: Any = await client.xautoclaim(stream, group, consumer, idle_ms, start_id=start, count=count)
        start = text(reply[0])
        page = [(e[0], e[1]) for e in reply[1] if e and e[1] is not None]
        trimmed = [e[0] for e in reply[1] if e and e[1] is None]
        if trimmed:
            await client.xack(stream, group, *trimmed)
        if page:
            yield page
        if start == "0-0" or not reply[1]:
            return


async def dead_letter(
    client: Any,
    stream: str,
    group: str,
    entry_id: str,
    fields: Mapping[bytes, bytes],
    reason: str,
    *,
    key: str | None = None,
    maxlen: int = streams.DEAD_LETTER_MAXLEN,
    payload_cap: int = streams.DEAD_LETTER_PAYLOAD_CAP,
) -> str:
    """Copy a bad entry of `stream` to its dead-letter stream (`key`, by default
    streams.dead_letter_key(stream)) with `reason`, and acknowledge it: one transaction. The key."""
    dead = key if key is not None else streams.dead_letter_key(stream)
    log.warning("bad entry %s in %s moved to %s: %s", entry_id, stream, dead, reason[: streams.REASON_CAP])
    copy: Any = streams.dead_letter_fields(stream, entry_id, fields, reason, payload_cap)
    async with client.pipeline(transaction=True) as pipe:  # same slot: the key keeps the stream's hash tag
        pipe.xadd(dead, copy, maxlen=maxlen, approximate=False)
        pipe.xack(stream, group, entry_id)
        await pipe.execute()
    return dead


async def ack(client: Any, group: str, entries: Iterable[tuple[str, str]]) -> int:
    """Acknowledge (stream, entry id) pairs, one XACK per stream; how many were passed."""
    by_stream: dict[str, list[str]] = {}
    for stream, entry_id in entries:
        by_stream.setdefault(stream, []).append(entry_id)
    for stream, ids in by_stream.items():
        await client.xack(stream, group, *ids)
    return sum(len(ids) for ids in by_stream.values())
