"""Conversions between grpc's types and the wire-free call model, and shared channel options."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import grpc

from sidecar.core.call import Code, Metadata, MetadataValue

# The sidecar relays messages of any size; the endpoints enforce their own limits.
UNLIMITED_MESSAGES = (
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
)

UPSTREAM_CHANNEL_OPTIONS = (
    *UNLIMITED_MESSAGES,
    ("grpc.enable_retries", 0),  # retries are a policy layer's decision, never the channel's
    # Reconnect quickly after an upstream restart (defaults back off up to 120 s).
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.keepalive_time_ms", 30_000),
)

# Metadata the caller's gRPC library adds for its own hop; the upstream hop adds its own.
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
