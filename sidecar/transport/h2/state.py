"""The state one HTTP/2 connection keeps (streams, windows, output queue), shared by the core's parts.

`GrpcConnection` (connection.py) is assembled from the parts that act on it: flow.py (windows and
DATA), streams.py (HEADERS, CONTINUATION, RST_STREAM) and control.py (SETTINGS, PING, GOAWAY).
"""

from __future__ import annotations

from collections import deque

from sidecar.transport.h2 import frames as f
from sidecar.transport.h2.events import ConnectionTerminated, Event, Headers, StreamReset
from sidecar.transport.h2.hpack_in import CachingDecoder
from sidecar.transport.h2.hpack_out import StatelessEncoder
from sidecar.transport.h2.limits import Limits, TokenBucket


class StreamError(Exception):
    """A call on a stream that cannot take it (unknown, closed, or over the peer's stream limit)."""


class Stream:
    __slots__ = (
        "end_after",
        "headers_seen",
        "local_closed",
        "pending",
        "pending_bytes",
        "recv_window",
        "remote_closed",
        "send_window",
        "sid",
        "trailers_after",
        "unacked",
    )

    def __init__(self, sid: int, send_window: int, recv_window: int) -> None:
        self.sid = sid
        self.send_window = send_window
        self.recv_window = recv_window
        self.unacked = 0
        self.pending: deque[bytes] = deque()
        self.pending_bytes = 0
        self.end_after = False  # END_STREAM once pending DATA is out
        self.trailers_after: Headers | None = None
        self.local_closed = False
        self.remote_closed = False
        self.headers_seen = 0


class ConnectionState:
    """Fields of one connection, the output queue, and the helpers every part uses."""

    def __init__(self, *, client: bool, limits: Limits | None = None) -> None:
        self.client = client
        self.limits = lim = limits or Limits()
        self._enc = StatelessEncoder()  # never indexes: no dynamic table to keep in step (hpack_out.py)
        self._dec = CachingDecoder(4 * lim.max_header_list_size, lim.header_table_size)  # hpack_in.py
        self._reader = f.FrameReader(lim.max_frame_size)
        self._out: list[bytes] = []
        self._out_bytes = 0
        self._control_bytes = 0  # peer-caused control frames queued since the last data_to_send()
        self._streams: dict[int, Stream] = {}
        self._await_preface = not client
        self._pre = b""
        self._next_sid = 1
        self._highest_peer = 0
        self._peer_max_streams = 100  # assumed until the peer's SETTINGS
        self._peer_initial_window = 65_535
        self._peer_max_frame = f.DEFAULT_MAX_FRAME
        self._send_window = 65_535
        self._recv_window = lim.connection_window
        self._conn_unacked = 0
        self._block: list[bytes] | None = None  # header block being collected across CONTINUATION
        self._block_sid = 0
        self._block_flags = 0
        self._block_frames = 0
        self.terminated: int | None = None  # GOAWAY code we sent when we ended the connection
        self.draining = False  # we sent a graceful GOAWAY: no new peer streams
        self.goaway_received: int | None = None  # peer's last stream id
        self._resets = TokenBucket(lim.reset_burst, lim.reset_rate)
        self._pings = TokenBucket(lim.ping_burst, lim.ping_rate)
        self._settings = TokenBucket(lim.settings_burst, lim.settings_rate)

    def _emit(self, data: bytes) -> None:
        self._out.append(data)
        self._out_bytes += len(data)

    def _control(self, data: bytes) -> None:
        """Queue an ACK/RST the peer caused; more than max_outbound of them between two
        data_to_send() calls means the peer makes us answer faster than we are writing."""
        self._control_bytes += len(data)
        if self._control_bytes > self.limits.max_outbound:
            raise f.FrameError(f.ENHANCE_YOUR_CALM, "peer does not read what it asks us to send")
        self._emit(data)

    def _headers(self, sid: int, headers: Headers, end: bool) -> None:
        block = self._enc.encode(headers)
        size = self._peer_max_frame
        flags = f.END_STREAM if end else 0
        if len(block) <= size:
            self._emit(f.frame(f.HEADERS, flags | f.END_HEADERS, sid, block))
            return
        self._emit(f.frame(f.HEADERS, flags, sid, block[:size]))
        for i in range(size, len(block), size):
            last = i + size >= len(block)
            self._emit(f.frame(f.CONTINUATION, f.END_HEADERS if last else 0, sid, block[i:i + size]))

    def _terminate(self, code: int, reason: str, events: list[Event]) -> None:
        self.terminated = code
        payload = self._highest_peer.to_bytes(4, "big") + code.to_bytes(4, "big") + reason.encode()[:256]
        self._emit(f.frame(f.GOAWAY, 0, 0, payload))
        self._streams.clear()
        self._block = None
        events.append(ConnectionTerminated(code, reason))

    def _peer_stream_idle(self, sid: int) -> bool:
        mine = (sid % 2 == 1) == self.client
        return sid >= self._next_sid if mine else sid > self._highest_peer

    def _reset(self, st: Stream, code: int, events: list[Event]) -> None:
        self._streams.pop(st.sid, None)
        self._control(f.frame(f.RST_STREAM, 0, st.sid, code.to_bytes(4, "big")))
        events.append(StreamReset(st.sid, code, False))

    def _maybe_forget(self, st: Stream) -> None:
        if st.local_closed and st.remote_closed and not st.pending:
            self._streams.pop(st.sid, None)
