"""Flow control of the HTTP/2 core: DATA in (windows credited only as the reader consumes) and out
(queued per stream, sent as both windows allow), WINDOW_UPDATE both ways."""

from __future__ import annotations

from sidecar.transport.h2 import frames as f
from sidecar.transport.h2.events import DataReceived, Event, WindowOpened
from sidecar.transport.h2.state import ConnectionState, Stream


class FlowControl(ConnectionState):
    def buffered(self, stream_id: int) -> int:
        """DATA bytes queued on a stream waiting for flow-control window (the writer's backpressure)."""
        st = self._streams.get(stream_id)
        return st.pending_bytes if st else 0

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

    def _flush(self, st: Stream, events: list[Event] | None = None) -> None:
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

    def _flush_all(self, events: list[Event]) -> None:
        for st in list(self._streams.values()):
            if st.pending:
                self._flush(st, events)

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
