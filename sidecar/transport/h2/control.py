"""Connection-level frames of the HTTP/2 core: SETTINGS, PING (both rate-limited), GOAWAY, and the
frames gRPC never needs (PRIORITY checked and ignored, PUSH_PROMISE refused)."""

from __future__ import annotations

from sidecar.transport.h2 import frames as f
from sidecar.transport.h2.events import Event, GoAwayReceived, PingAcked, RemoteSettings, StreamReset
from sidecar.transport.h2.flow import FlowControl


class ControlFrames(FlowControl):
    def ping(self, data: bytes = b"\0" * 8) -> None:
        self._emit(f.frame(f.PING, 0, 0, data[:8].ljust(8, b"\0")))

    def goaway(self, code: int = f.NO_ERROR, debug: bytes = b"") -> None:
        """Graceful when NO_ERROR: streams up to the last peer stream finish; newer ones are refused."""
        self.draining = True
        payload = self._highest_peer.to_bytes(4, "big") + code.to_bytes(4, "big") + debug
        self._emit(f.frame(f.GOAWAY, 0, 0, payload))

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

    def _on_push(self, flags: int, sid: int, payload: bytes, now: float, events: list[Event]) -> None:
        raise f.FrameError(f.PROTOCOL_ERROR, "PUSH_PROMISE is not allowed (push disabled)")

    def _on_priority(self, flags: int, sid: int, payload: bytes, now: float, events: list[Event]) -> None:
        if sid == 0 or len(payload) != 5:
            raise f.FrameError(f.PROTOCOL_ERROR if sid == 0 else f.FRAME_SIZE_ERROR, "malformed PRIORITY")
