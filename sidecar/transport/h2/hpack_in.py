"""Inbound HPACK: `hpack.Decoder` behind a cache of whole header blocks that left the dynamic table as it was.

A peer's gRPC library indexes the fields it sends on every call (`:status 200`, `content-type`,
`grpc-status 0`, its `:path`s and `user-agent`), so after the first calls its header blocks are runs
of dynamic-table references: the same bytes, decoding to the same list, for as long as the table does
not change. A block is cached only when decoding it inserted nothing and resized nothing (the table's
insert counter and size did not move); any block that changes the table clears the cache, since
earlier blocks may then mean something else. Blocks with a per-call value (`grpc-timeout`) differ
every time and are decoded as usual. The CPU profile in docs/data-plane.md says why: hpack decoding
was the largest single cost of a relayed call.
"""

from __future__ import annotations

from typing import Any

import hpack

from sidecar.transport.h2.events import Headers

MAX_CACHED = 64  # blocks per connection (a peer sends a handful of distinct ones)


class CachingDecoder:
    __slots__ = ("_cache", "_dec", "_inserts", "hits")

    def __init__(self, max_header_list_size: int, max_table_size: int) -> None:
        self._dec = hpack.Decoder(max_header_list_size=max_header_list_size)
        self._dec.max_allowed_table_size = max_table_size
        self._cache: dict[bytes, tuple[Any, ...]] = {}
        self._inserts = 0
        self.hits = 0
        table = self._dec.header_table
        add = table.add

        def counted_add(name: bytes, value: bytes) -> None:
            self._inserts += 1
            add(name, value)

        table.add = counted_add  # type: ignore[method-assign]  # every insertion into the table goes through here

    def decode(self, block: bytes) -> Headers:
        """The block's header list (raw bytes); raises what hpack.Decoder raises."""
        cached = self._cache.get(block)
        if cached is not None:
            self.hits += 1
            return list(cached)
        table = self._dec.header_table
        before = (self._inserts, table.maxsize)
        headers: Headers = self._dec.decode(block, raw=True)  # type: ignore[assignment]
        if (self._inserts, table.maxsize) != before:
            self._cache.clear()
        elif len(self._cache) < MAX_CACHED:
            self._cache[block] = tuple(headers)
        return headers
