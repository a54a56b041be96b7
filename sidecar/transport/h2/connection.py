"""A sans-IO HTTP/2 connection made for gRPC: bytes in -> events, calls -> bytes out; no sockets, no asyncio.

Assembled from its parts: state.py (what a connection keeps), flow.py (windows, DATA), streams.py
(HEADERS/CONTINUATION/RST_STREAM) and control.py (SETTINGS/PING/GOAWAY); here are the public
sending API and the frame dispatch.
"""

from __future__ import annotations

from collections.abc import Callable

from sidecar.transport.h2 import frames as f
from sidecar.transport.h2.control import ControlFrames
from sidecar.transport.h2.events import Event, Headers
from sidecar.transport.h2.limits import Limits
from sidecar.transport.h2.state import Stream, StreamError
from sidecar.transport.h2.streams import StreamFrames

__all__ = ["GrpcConnection", "StreamError"]


class GrpcConnection(StreamFrames, ControlFrames):
    """One HTTP/2 connection, either side. `receive_data(bytes, now)` -> events; `data_to_send()` -> bytes.

    Inbound DATA is credited back to the peer only through `consumed()`, so a slow reader stops the
    peer instead of growing our buffers: per connection we hold at most `connection_window` bytes of
    DATA, one frame being parsed, one header block (≤ max_header_block) and what the app queued.
    """

    def __init__(self, *, client: bool, limits: Limits | None = None) -> None:
        super().__init__(client=client, limits=limits)
        lim = self.limits
        settings = [(f.MAX_CONCURRENT_STREAMS, lim.max_concurrent_streams), (f.INITIAL_WINDOW_SIZE, lim.initial_window),
                    (f.MAX_FRAME_SIZE, lim.max_frame_size), (f.MAX_HEADER_LIST_SIZE, lim.max_header_list_size),
                    (f.HEADER_TABLE_SIZE, lim.header_table_size)]
        if client:
            settings.append((f.ENABLE_PUSH, 0))
            self._emit(f.PREFACE)
        self._emit(f.frame(f.SETTINGS, 0, 0, f.settings_payload(settings)))
        if lim.connection_window > 65_535:
            self._emit(f.frame(f.WINDOW_UPDATE, 0, 0, (lim.connection_window - 65_535).to_bytes(4, "big")))

    # ---- state queries -------------------------------------------------------------------------

    @property
    def open_streams(self) -> int:
        return len(self._streams)

    @property
    def can_open(self) -> bool:
        """A client may start another stream here (peer's MAX_CONCURRENT_STREAMS, GOAWAY, ids left)."""
        return (self.terminated is None and self.goaway_received is None
                and len(self._streams) < self._peer_max_streams and self._next_sid < 2**31)

    @property
    def established(self) -> bool:
        """The peer's preface has arrived (always True on the client side)."""
        return not self._await_preface

    @property
    def peer_max_streams(self) -> int:
        """The peer's SETTINGS_MAX_CONCURRENT_STREAMS (100 assumed until its SETTINGS arrive)."""
        return self._peer_max_streams

    @property
    def highest_peer_stream(self) -> int:
        return self._highest_peer

    def memory(self) -> int:
        """Bytes this connection holds (parse buffer, header block, queued output and DATA)."""
        block = sum(map(len, self._block)) if self._block else 0
        return self._reader.buffered + block + self._out_bytes + sum(s.pending_bytes for s in self._streams.values())

    # ---- output ----------------------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        out = b"".join(self._out)
        self._out.clear()
        self._out_bytes = 0
        self._control_bytes = 0
        return out

    # ---- sending -------------------------------------------------------------------------------

    def send_request(self, headers: Headers, end_stream: bool = False) -> int:
        if not self.client:
            raise StreamError("a server connection cannot send requests")
        if not self.can_open:
            raise StreamError("no stream available on this connection (peer limit, GOAWAY or closed)")
        sid = self._next_sid
        self._next_sid += 2
        st = self._streams[sid] = Stream(sid, self._peer_initial_window, self.limits.initial_window)
        self._headers(sid, headers, end_stream)
        st.local_closed = end_stream
        return sid

    def send_headers(self, stream_id: int, headers: Headers, end_stream: bool = False) -> None:
        """Response headers (server), or trailers-only with end_stream=True."""
        st = self._open(stream_id)
        self._headers(stream_id, headers, end_stream)
        if end_stream:
            st.local_closed = True
            self._maybe_forget(st)

    def send_data(self, stream_id: int, data: bytes, end_stream: bool = False) -> None:
        st = self._open(stream_id)
        if data:
            st.pending.append(data)
            st.pending_bytes += len(data)
        st.end_after = end_stream
        self._flush(st)

    def send_trailers(self, stream_id: int, headers: Headers) -> None:
        st = self._open(stream_id)
        st.trailers_after = headers
        st.end_after = True
        self._flush(st)

    def reset_stream(self, stream_id: int, code: int = f.CANCEL) -> None:
        if self._streams.pop(stream_id, None) is not None:
            self._emit(f.frame(f.RST_STREAM, 0, stream_id, code.to_bytes(4, "big")))

    def _open(self, stream_id: int) -> Stream:
        st = self._streams.get(stream_id)
        if st is None or st.local_closed:
            raise StreamError(f"stream {stream_id} is closed or unknown")
        return st

    # ---- receiving -----------------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float = 0.0) -> list[Event]:
        """Parse what the peer sent; `now` (seconds, any monotonic origin) feeds the flood limits."""
        events: list[Event] = []
        if self.terminated is not None:
            return events
        try:
            if self._await_preface:
                data = self._preface(data)
                if not data:
                    return events
            for kind, flags, sid, payload in self._reader.feed(data):
                if self._block is not None and kind != f.CONTINUATION:
                    raise f.FrameError(f.PROTOCOL_ERROR, "header block interrupted by another frame")
                handler = _HANDLERS.get(kind)
                if handler is not None:
                    handler(self, flags, sid, payload, now, events)
                if self.terminated is not None:
                    break
        except f.FrameError as exc:
            self._terminate(exc.code, exc.reason, events)
        return events

    def _preface(self, data: bytes) -> bytes:
        buf = self._pre + data
        if len(buf) < len(f.PREFACE):
            if not f.PREFACE.startswith(buf):
                raise f.FrameError(f.PROTOCOL_ERROR, "not an HTTP/2 connection preface")
            self._pre = buf
            return b""
        if not buf.startswith(f.PREFACE):
            raise f.FrameError(f.PROTOCOL_ERROR, "not an HTTP/2 connection preface")
        self._await_preface = False
        self._pre = b""
        return buf[len(f.PREFACE):]


_Handler = Callable[[GrpcConnection, int, int, bytes, float, list[Event]], None]
_HANDLERS: dict[int, _Handler] = {
    f.DATA: GrpcConnection._on_data,
    f.HEADERS: GrpcConnection._on_headers,
    f.PRIORITY: GrpcConnection._on_priority,
    f.RST_STREAM: GrpcConnection._on_rst,
    f.SETTINGS: GrpcConnection._on_settings,
    f.PUSH_PROMISE: GrpcConnection._on_push,
    f.PING: GrpcConnection._on_ping,
    f.GOAWAY: GrpcConnection._on_goaway,
    f.WINDOW_UPDATE: GrpcConnection._on_window_update,
    f.CONTINUATION: GrpcConnection._on_continuation,
}
