"""A sans-IO HTTP/2 connection made for gRPC: bytes in -> events, calls -> bytes out; no sockets, no asyncio."""

from __future__ import annotations

from collections import deque

import hpack
from hpack.exceptions import HPACKError, OversizedHeaderListError

from sidecar.transport.h2 import frames as f
from sidecar.transport.h2.events import (
    ConnectionTerminated,
    DataReceived,
    Event,
    GoAwayReceived,
    Headers,
    HeadersReceived,
    PingAcked,
    RemoteSettings,
    StreamReset,
    WindowOpened,
)
from sidecar.transport.h2.hpack_out import StatelessEncoder
from sidecar.transport.h2.limits import Limits, TokenBucket


class StreamError(Exception):
    """A call on a stream that cannot take it (unknown, closed, or over the peer's stream limit)."""


class _Stream:
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


class GrpcConnection:
    """One HTTP/2 connection, either side. `receive_data(bytes, now)` -> events; `data_to_send()` -> bytes.

    Inbound DATA is credited back to the peer only through `consumed()`, so a slow reader stops the
    peer instead of growing our buffers: per connection we hold at most `connection_window` bytes of
    DATA, one frame being parsed, one header block (≤ max_header_block) and what the app queued.
    """

    def __init__(self, *, client: bool, limits: Limits | None = None) -> None:
        self.client = client
        self.limits = lim = limits or Limits()
        self._enc = StatelessEncoder()  # never indexes: no dynamic table to keep in step (hpack_out.py)
        self._dec = hpack.Decoder(max_header_list_size=4 * lim.max_header_list_size)
        self._dec.max_allowed_table_size = lim.header_table_size
        self._reader = f.FrameReader(lim.max_frame_size)
        self._out: list[bytes] = []
        self._out_bytes = 0
        self._control_bytes = 0  # peer-caused control frames queued since the last data_to_send()
        self._streams: dict[int, _Stream] = {}
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

    def buffered(self, stream_id: int) -> int:
        """DATA bytes queued on a stream waiting for flow-control window (the writer's backpressure)."""
        st = self._streams.get(stream_id)
        return st.pending_bytes if st else 0

    def memory(self) -> int:
        """Bytes this connection holds (parse buffer, header block, queued output and DATA)."""
        block = sum(map(len, self._block)) if self._block else 0
        return self._reader.buffered + block + self._out_bytes + sum(s.pending_bytes for s in self._streams.values())

    # ---- output ----------------------------------------------------------------------------------

    def _emit(self, data: bytes) -> None:
        self._out.append(data)
        self._out_bytes += len(data)

    def data_to_send(self) -> bytes:
        out = b"".join(self._out)
        self._out.clear()
        self._out_bytes = 0
        self._control_bytes = 0
        return out

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

    # ---- sending -------------------------------------------------------------------------------

    def send_request(self, headers: Headers, end_stream: bool = False) -> int:
        if not self.client:
            raise StreamError("a server connection cannot send requests")
        if not self.can_open:
            raise StreamError("no stream available on this connection (peer limit, GOAWAY or closed)")
        sid = self._next_sid
        self._next_sid += 2
        st = self._streams[sid] = _Stream(sid, self._peer_initial_window, self.limits.initial_window)
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

    def ping(self, data: bytes = b"\0" * 8) -> None:
        self._emit(f.frame(f.PING, 0, 0, data[:8].ljust(8, b"\0")))

    def goaway(self, code: int = f.NO_ERROR, debug: bytes = b"") -> None:
        """Graceful when NO_ERROR: streams up to the last peer stream finish; newer ones are refused."""
        self.draining = True
        payload = self._highest_peer.to_bytes(4, "big") + code.to_bytes(4, "big") + debug
        self._emit(f.frame(f.GOAWAY, 0, 0, payload))

    def consumed(self, stream_id: int, size: int) -> None:
        """The reader took `size` DATA bytes: credit the windows back (WINDOW_UPDATE at half a window)."""
        self._conn_unacked += size
        if self._conn_unacked >= self.limits.connection_window // 2:
            self._emit(f.frame(f.WINDOW_UPDATE, 0, 0, self._conn_unacked.to_bytes(4, "big")))
            self._recv_window += self._conn_unacked
            self._conn_unacked = 0
        st = self._streams.get(stream_id)
        if st is None or st.remote_closed:
            return
        st.unacked += size
        if st.unacked >= self.limits.initial_window // 2:
            self._emit(f.frame(f.WINDOW_UPDATE, 0, stream_id, st.unacked.to_bytes(4, "big")))
            st.recv_window += st.unacked
            st.unacked = 0

    def _open(self, stream_id: int) -> _Stream:
        st = self._streams.get(stream_id)
        if st is None or st.local_closed:
            raise StreamError(f"stream {stream_id} is closed or unknown")
        return st

    def _flush(self, st: _Stream, events: list[Event] | None = None) -> None:
        while st.pending:
            room = min(self._send_window, st.send_window, self._peer_max_frame)
            if room <= 0:
                return
            chunk = st.pending.popleft()
            if len(chunk) > room:
                st.pending.appendleft(chunk[room:])
                chunk = chunk[:room]
            n = len(chunk)
            st.pending_bytes -= n
            self._send_window -= n
            st.send_window -= n
            last = not st.pending and st.end_after and st.trailers_after is None
            self._emit(f.frame(f.DATA, f.END_STREAM if last else 0, st.sid, chunk))
            if last:
                st.local_closed = True
            if not st.pending and events is not None:
                events.append(WindowOpened(st.sid))
        if st.local_closed:
            self._maybe_forget(st)
            return
        if st.trailers_after is not None:
            self._headers(st.sid, st.trailers_after, True)
            st.trailers_after = None
            st.local_closed = True
        elif st.end_after:
            self._emit(f.frame(f.DATA, f.END_STREAM, st.sid))
            st.local_closed = True
        if st.local_closed:
            self._maybe_forget(st)

    def _maybe_forget(self, st: _Stream) -> None:
        if st.local_closed and st.remote_closed and not st.pending:
            self._streams.pop(st.sid, None)

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

    def _terminate(self, code: int, reason: str, events: list[Event]) -> None:
        self.terminated = code
        payload = self._highest_peer.to_bytes(4, "big") + code.to_bytes(4, "big") + reason.encode()[:256]
        self._emit(f.frame(f.GOAWAY, 0, 0, payload))
        self._streams.clear()
        self._block = None
        events.append(ConnectionTerminated(code, reason))

    def _control(self, data: bytes) -> None:
        """Queue an ACK/RST the peer caused; more than max_outbound of them between two
        data_to_send() calls means the peer makes us answer faster than we are writing."""
        self._control_bytes += len(data)
        if self._control_bytes > self.limits.max_outbound:
            raise f.FrameError(f.ENHANCE_YOUR_CALM, "peer does not read what it asks us to send")
        self._emit(data)

    def _peer_stream_idle(self, sid: int) -> bool:
        mine = (sid % 2 == 1) == self.client
        return sid >= self._next_sid if mine else sid > self._highest_peer

    def _on_data(self, flags: int, sid: int, payload: bytes, now: float, events: list[Event]) -> None:
        if sid == 0:
            raise f.FrameError(f.PROTOCOL_ERROR, "DATA on stream 0")
        size = len(payload)
        self._recv_window -= size
        if self._recv_window < 0:
            raise f.FrameError(f.FLOW_CONTROL_ERROR, "peer overran the connection window")
        st = self._streams.get(sid)
        if st is None or st.remote_closed or not st.headers_seen:
            if self._peer_stream_idle(sid):
                raise f.FrameError(f.PROTOCOL_ERROR, f"DATA on idle stream {sid}")
            self.consumed(0, size)  # a closed or reset stream: credit the connection, drop the bytes
            if st is not None:
                self._reset(st, f.STREAM_CLOSED, events)
            return
        st.recv_window -= size
        if st.recv_window < 0:
            self.consumed(0, size)
            self._reset(st, f.FLOW_CONTROL_ERROR, events)
            return
        data = f.strip_padding(flags, payload)
        if len(data) != size:
            self.consumed(sid, size - len(data))  # padding is never the reader's to consume
        end = bool(flags & f.END_STREAM)
        if end:
            st.remote_closed = True
        if data:
            self._pings.give()
            self._settings.give()
        events.append(DataReceived(sid, data, end))
        if end:
            self._maybe_forget(st)

    def _reset(self, st: _Stream, code: int, events: list[Event]) -> None:
        self._streams.pop(st.sid, None)
        self._control(f.frame(f.RST_STREAM, 0, st.sid, code.to_bytes(4, "big")))
        events.append(StreamReset(st.sid, code, False))

    def _on_headers(self, flags: int, sid: int, payload: bytes, now: float, events: list[Event]) -> None:
        if sid == 0:
            raise f.FrameError(f.PROTOCOL_ERROR, "HEADERS on stream 0")
        payload = f.strip_padding(flags, payload)
        if flags & f.PRIORITY_FLAG:
            payload = payload[5:]
        if len(payload) > self.limits.max_header_block:
            raise f.FrameError(f.ENHANCE_YOUR_CALM, "header block larger than the limit")
        if flags & f.END_HEADERS:
            self._header_block(sid, flags, payload, now, events)
        else:
            self._block, self._block_sid, self._block_flags, self._block_frames = [payload], sid, flags, 0

    def _on_continuation(self, flags: int, sid: int, payload: bytes, now: float, events: list[Event]) -> None:
        if self._block is None or sid != self._block_sid:
            raise f.FrameError(f.PROTOCOL_ERROR, "CONTINUATION without a header block in progress")
        self._block.append(payload)
        self._block_frames += 1
        if self._block_frames > self.limits.max_continuations:
            raise f.FrameError(f.ENHANCE_YOUR_CALM, f"more than {self.limits.max_continuations} CONTINUATION frames")
        if sum(map(len, self._block)) > self.limits.max_header_block:
            raise f.FrameError(f.ENHANCE_YOUR_CALM, "header block larger than the limit")
        if flags & f.END_HEADERS:
            block = b"".join(self._block)
            self._block = None
            self._header_block(sid, self._block_flags, block, now, events)

    def _header_block(self, sid: int, flags: int, block: bytes, now: float, events: list[Event]) -> None:
        try:  # always decode: the HPACK table must stay in step even for streams we refuse
            headers: Headers = self._dec.decode(block, raw=True)  # type: ignore[assignment]
        except OversizedHeaderListError as exc:
            limit = 4 * self.limits.max_header_list_size
            raise f.FrameError(f.ENHANCE_YOUR_CALM, f"header list over {limit} bytes") from exc
        except HPACKError as exc:
            raise f.FrameError(f.COMPRESSION_ERROR, f"bad header block: {exc}") from exc
        end = bool(flags & f.END_STREAM)
        st = self._streams.get(sid)
        if st is None:
            if self.client or sid % 2 == 0:
                if self._peer_stream_idle(sid):
                    raise f.FrameError(f.PROTOCOL_ERROR, f"HEADERS on idle stream {sid}")
                return  # a stream we already reset
            if sid <= self._highest_peer:
                return  # closed or reset: nothing to do (its HPACK state is consumed above)
            self._highest_peer = sid
            if self.draining or len(self._streams) >= self.limits.max_concurrent_streams:
                self._refuse(sid, now, events)
                return
            size = sum(len(n) + len(v) + 32 for n, v in headers)
            if size > self.limits.max_header_list_size:
                self._refuse_call(sid, end, f"request header list of {size} bytes exceeds the limit of "
                                            f"{self.limits.max_header_list_size}")
                return
            st = self._streams[sid] = _Stream(sid, self._peer_initial_window, self.limits.initial_window)
        elif st.remote_closed:
            self._reset(st, f.STREAM_CLOSED, events)
            return
        st.headers_seen += 1
        trailers = st.headers_seen > 1
        if trailers and not end:
            self._reset(st, f.PROTOCOL_ERROR, events)
            return
        if end:
            st.remote_closed = True
        events.append(HeadersReceived(sid, headers, end, trailers))
        if end:
            self._maybe_forget(st)

    def _refuse_call(self, sid: int, ended: bool, reason: str) -> None:
        """Answer one call RESOURCE_EXHAUSTED (trailers-only) without the application seeing it."""
        self._headers(sid, [(b":status", b"200"), (b"content-type", b"application/grpc"), (b"grpc-status", b"8"),
                            (b"grpc-message", reason.encode())], True)
        if not ended:  # the caller may still be sending: stop it
            self._emit(f.frame(f.RST_STREAM, 0, sid, f.NO_ERROR.to_bytes(4, "big")))

    def _refuse(self, sid: int, now: float, events: list[Event]) -> None:
        if not self._resets.take(now):
            raise f.FrameError(f.ENHANCE_YOUR_CALM, "too many refused streams (rapid reset)")
        self._control(f.frame(f.RST_STREAM, 0, sid, f.REFUSED_STREAM.to_bytes(4, "big")))
        events.append(StreamReset(sid, f.REFUSED_STREAM, False))

    def _on_rst(self, flags: int, sid: int, payload: bytes, now: float, events: list[Event]) -> None:
        if sid == 0 or len(payload) != 4:
            raise f.FrameError(f.PROTOCOL_ERROR if sid == 0 else f.FRAME_SIZE_ERROR, "malformed RST_STREAM")
        if self._peer_stream_idle(sid):
            raise f.FrameError(f.PROTOCOL_ERROR, f"RST_STREAM on idle stream {sid}")
        # rapid reset is a client's attack on a server; a server legitimately resets every stream it
        # answered before the client half-closed (RST_STREAM NO_ERROR, RFC 9113 §8.1)
        if not self.client and not self._resets.take(now):
            raise f.FrameError(f.ENHANCE_YOUR_CALM, "too many stream resets (rapid reset, CVE-2023-44487)")
        st = self._streams.pop(sid, None)
        if st is not None:
            events.append(StreamReset(sid, int.from_bytes(payload, "big"), True))

    def _on_settings(self, flags: int, sid: int, payload: bytes, now: float, events: list[Event]) -> None:
        if sid != 0:
            raise f.FrameError(f.PROTOCOL_ERROR, "SETTINGS on a stream")
        if flags & f.ACK:
            if payload:
                raise f.FrameError(f.FRAME_SIZE_ERROR, "SETTINGS ACK with a payload")
            return
        if not self._settings.take(now):
            raise f.FrameError(f.ENHANCE_YOUR_CALM, "SETTINGS flood")
        for key, value in f.parse_settings(payload):
            if key == f.MAX_CONCURRENT_STREAMS:
                self._peer_max_streams = value
            elif key == f.INITIAL_WINDOW_SIZE:
                if value > f.MAX_WINDOW:
                    raise f.FrameError(f.FLOW_CONTROL_ERROR, "INITIAL_WINDOW_SIZE above 2^31-1")
                delta, self._peer_initial_window = value - self._peer_initial_window, value
                for st in self._streams.values():
                    st.send_window += delta
            elif key == f.MAX_FRAME_SIZE:
                if not f.DEFAULT_MAX_FRAME <= value <= 16_777_215:
                    raise f.FrameError(f.PROTOCOL_ERROR, f"MAX_FRAME_SIZE {value} out of range")
                self._peer_max_frame = value
            elif key == f.HEADER_TABLE_SIZE:
                pass  # our encoder uses no dynamic table, so any size the peer allows suits it
            elif key == f.ENABLE_PUSH and value > 1:
                raise f.FrameError(f.PROTOCOL_ERROR, "ENABLE_PUSH must be 0 or 1")
        self._control(f.frame(f.SETTINGS, f.ACK, 0))
        events.append(RemoteSettings(self._peer_max_streams, self._peer_initial_window))
        self._flush_all(events)

    def _on_ping(self, flags: int, sid: int, payload: bytes, now: float, events: list[Event]) -> None:
        if sid != 0 or len(payload) != 8:
            raise f.FrameError(f.PROTOCOL_ERROR if sid else f.FRAME_SIZE_ERROR, "malformed PING")
        if flags & f.ACK:
            events.append(PingAcked(payload))
            return
        if not self._pings.take(now):
            raise f.FrameError(f.ENHANCE_YOUR_CALM, "PING flood")
        self._control(f.frame(f.PING, f.ACK, 0, payload))

    def _on_goaway(self, flags: int, sid: int, payload: bytes, now: float, events: list[Event]) -> None:
        if sid != 0 or len(payload) < 8:
            raise f.FrameError(f.PROTOCOL_ERROR, "malformed GOAWAY")
        last = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
        self.goaway_received = last
        events.append(GoAwayReceived(last, int.from_bytes(payload[4:8], "big"), payload[8:264]))
        for st in [s for s in self._streams.values() if s.sid > last and (s.sid % 2 == 1) == self.client]:
            self._streams.pop(st.sid)
            events.append(StreamReset(st.sid, f.REFUSED_STREAM, True))  # never processed: safe to retry

    def _on_window_update(self, flags: int, sid: int, payload: bytes, now: float, events: list[Event]) -> None:
        if len(payload) != 4:
            raise f.FrameError(f.FRAME_SIZE_ERROR, "WINDOW_UPDATE payload not 4 bytes")
        inc = int.from_bytes(payload, "big") & 0x7FFFFFFF
        if sid == 0:
            if inc == 0:
                raise f.FrameError(f.PROTOCOL_ERROR, "WINDOW_UPDATE of 0 on the connection")
            self._send_window += inc
            if self._send_window > f.MAX_WINDOW:
                raise f.FrameError(f.FLOW_CONTROL_ERROR, "connection window above 2^31-1")
            self._flush_all(events)
            return
        st = self._streams.get(sid)
        if st is None:
            if self._peer_stream_idle(sid):
                raise f.FrameError(f.PROTOCOL_ERROR, f"WINDOW_UPDATE on idle stream {sid}")
            return
        if inc == 0:
            self._reset(st, f.PROTOCOL_ERROR, events)
            return
        st.send_window += inc
        if st.send_window > f.MAX_WINDOW:
            self._reset(st, f.FLOW_CONTROL_ERROR, events)
            return
        self._flush(st, events)

    def _on_push(self, flags: int, sid: int, payload: bytes, now: float, events: list[Event]) -> None:
        raise f.FrameError(f.PROTOCOL_ERROR, "PUSH_PROMISE is not allowed (push disabled)")

    def _on_priority(self, flags: int, sid: int, payload: bytes, now: float, events: list[Event]) -> None:
        if sid == 0 or len(payload) != 5:
            raise f.FrameError(f.PROTOCOL_ERROR if sid == 0 else f.FRAME_SIZE_ERROR, "malformed PRIORITY")

    def _flush_all(self, events: list[Event]) -> None:
        for st in list(self._streams.values()):
            if st.pending:
                self._flush(st, events)


_HANDLERS = {
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
