"""Per-connection limits of the h2 transport (what we advertise and what we tolerate)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    max_concurrent_streams: int = 100  # advertised; extra streams get RST_STREAM(REFUSED_STREAM)
    initial_window: int = 1 << 20  # per-stream receive window we advertise
    connection_window: int = 4 << 20  # connection receive window: bounds buffered inbound DATA
    max_frame_size: int = 16_384
    max_header_list_size: int = 16_384  # decoded size (RFC 9113 accounting: name + value + 32 each);
    # over it a server refuses the one call (trailers-only RESOURCE_EXHAUSTED); over 4x it ends the
    # connection (an HPACK bomb: we stop decoding, so the shared table is lost)
    max_header_block: int = 32_768  # compressed bytes across HEADERS + CONTINUATION
    max_continuations: int = 8
    header_table_size: int = 4_096
    max_message: int = 4 * 1024 * 1024  # gRPC message (enforced by MessageDecoder users)
    reset_burst: int = 200  # token buckets (burst, per second) for peer-caused events
    reset_rate: float = 100.0
    # PING/SETTINGS: legit peers (gRPC's BDP probe) send them along with data, which earns a token back
    ping_burst: int = 50
    ping_rate: float = 10.0
    settings_burst: int = 50
    settings_rate: float = 10.0
    max_outbound: int = 1 << 20  # unsent control bytes (ACKs, RSTs) beyond which the peer is not reading

    def __post_init__(self) -> None:
        for name in ("max_concurrent_streams", "initial_window", "connection_window", "max_header_list_size"):
            if getattr(self, name) <= 0:
                raise ValueError(f"h2 limits: {name} must be positive, got {getattr(self, name)}")
        if not 16_384 <= self.max_frame_size <= 16_777_215:
            raise ValueError(f"h2 limits: max_frame_size must be in [16384, 16777215], got {self.max_frame_size}")
        if self.initial_window > 2**31 - 1 or self.connection_window > 2**31 - 1:
            raise ValueError("h2 limits: windows must be at most 2^31-1")


class TokenBucket:
    """`take(now)` is False once more than `burst` events came faster than `rate` per second."""

    __slots__ = ("_at", "_tokens", "burst", "rate")

    def __init__(self, burst: int, rate: float) -> None:
        self.burst, self.rate = burst, rate
        self._tokens = float(burst)
        self._at: float | None = None

    def give(self) -> None:
        """One token back (the peer did useful work: a message arrived)."""
        if self._tokens < self.burst:
            self._tokens += 1.0

    def take(self, now: float) -> bool:
        if self._at is not None:
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
