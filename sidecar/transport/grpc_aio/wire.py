"""Conversions between grpc's types and the wire-free call model, and the server/channel options."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import grpc

from sidecar.core import compression
from sidecar.core.call import Code, Metadata, MetadataValue
from sidecar.core.transport import WireLimits

# Upstream answers are relayed at any size; the caller-facing limits are the listener's.
UNLIMITED_MESSAGES = (
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
)

# grpc's own header-list limits: rejections become random between the soft (8 KiB) and the hard
# (16 KiB) limit. A proxy must not add a second random hop, so both are the same value here.
UPSTREAM_METADATA_BYTES = 16 * 1024

UPSTREAM_CHANNEL_OPTIONS = (
    *UNLIMITED_MESSAGES,
    ("grpc.max_metadata_size", UPSTREAM_METADATA_BYTES),
    ("grpc.absolute_max_metadata_size", UPSTREAM_METADATA_BYTES),
    ("grpc.enable_retries", 0),  # retries are a policy layer's decision, never the channel's
    # Reconnect quickly after an upstream restart (defaults back off up to 120 s).
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.keepalive_time_ms", 30_000),
)

# No grpc core backlog shedding: above grpc.server.max_pending_requests (default 1000) calls the
# application has not yet picked up are refused at random, up to the hard limit (3000), and the
# caller sees a bare CANCELLED (hardening h). The backlog is bounded instead by the advertised
# MAX_CONCURRENT_STREAMS per connection (callers queue beyond it).
_NO_BACKLOG_SHEDDING = 2**31 - 1


def listener_options(limits: WireLimits) -> tuple[tuple[str, Any], ...]:
    """grpc server options enforcing a listener's wire limits (docs/limits.md)."""
    return (
        ("grpc.max_receive_message_length", limits.max_message_bytes),
        ("grpc.max_send_message_length", -1),  # answers are the upstream's; the caller has its own limit
        ("grpc.max_metadata_size", limits.max_metadata_bytes),  # soft = hard: no random rejections
        ("grpc.absolute_max_metadata_size", limits.max_metadata_bytes),
        ("grpc.max_concurrent_streams", limits.max_concurrent_streams),
        # Count HTTP/2 concurrency (what the caller sees and queues on), not grpc core's stream
        # allocations: with overload protection on, streams over the limit are refused with
        # RST_STREAM(REFUSED_STREAM) and the caller gets UNAVAILABLE instead of waiting.
        ("grpc.http.overload_protection", 0),
        ("grpc.server.max_pending_requests", _NO_BACKLOG_SHEDDING),
        ("grpc.server.max_pending_requests_hard_limit", _NO_BACKLOG_SHEDDING),
    )


# Metadata the caller's gRPC library adds for its own hop; the upstream hop adds its own. (grpc core
# never shows a call's grpc-encoding to the application: it inflates and compresses by itself.)
HOP_BY_HOP = frozenset({"user-agent", "te", "content-type", "grpc-accept-encoding", "grpc-encoding"})

# Carries the call's target service name: grpc Python servers cannot read :authority
# (grpc/grpc#38906), so sidecar.client sets this key beside the authority.
AUTHORITY_KEY = "apex-authority"

TO_GRPC: dict[int, grpc.StatusCode] = {code.value[0]: code for code in grpc.StatusCode}
FROM_GRPC: dict[grpc.StatusCode, Code] = {code: Code(code.value[0]) for code in grpc.StatusCode}


def inbound_metadata(items: Iterable[tuple[str, MetadataValue]]) -> tuple[Metadata, str]:
    """Split a call's invocation metadata into what to forward and the requested authority."""
    forward: list[tuple[str, MetadataValue]] = []
    authority = ""
    for key, value in items:
        if key == AUTHORITY_KEY:
            authority = value.decode() if isinstance(value, bytes) else value
        elif key not in HOP_BY_HOP and not key.startswith(("grpc-", ":")):
            forward.append((key, value))
    return tuple(forward), authority.lower()


_COMPRESSION = {"gzip": grpc.Compression.Gzip, "deflate": grpc.Compression.Deflate}


def split_compression(metadata: Metadata) -> tuple[Metadata, grpc.Compression | None]:
    """Metadata without grpc-encoding / grpc-accept-encoding (grpc core writes its own), and the
    compression grpc core is to apply: the algorithm the other side's messages came with. Only a
    transport that shows them (h2) puts these keys in a call's metadata: grpc core hides them, so
    between two grpc hops compression ends at each (inflated on the way in, not compressed again)."""
    if not any(key in compression.KEYS for key, _ in metadata):
        return metadata, None
    encoding = compression.encoding_of(metadata)
    return tuple(kv for kv in metadata if kv[0] not in compression.KEYS), _COMPRESSION.get(encoding)


class OrderedMetadata(grpc.aio.Metadata):
    """grpc.aio.Metadata that sends pairs in the order given.

    The base class groups values by key, which would reorder interleaved keys on the way
    upstream; grpc.aio turns call metadata into a tuple by iterating it, so iteration order
    is what goes on the wire.
    """

    def __init__(self, pairs: Metadata) -> None:
        super().__init__(*pairs)
        self._pairs = pairs

    def __iter__(self) -> Iterator[tuple[str, MetadataValue]]:
        return iter(self._pairs)


def as_metadata(items: Iterable[tuple[str, MetadataValue]] | None) -> Metadata:
    """grpc's Metadata object (or None) → a plain tuple of pairs."""
    return tuple((key, value) for key, value in items) if items else ()
