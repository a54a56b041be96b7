"""Stream frames of the HTTP/2 core: HEADERS and CONTINUATION (one header block at a time, bounded,
always decoded so HPACK stays in step), refusals past the limits, and the peer's RST_STREAM."""

from __future__ import annotations

from hpack.exceptions import HPACKError, OversizedHeaderListError

from sidecar.transport.h2 import frames as f
from sidecar.transport.h2.events import Event, Headers, HeadersReceived, StreamReset
from sidecar.transport.h2.state import ConnectionState, Stream


class StreamFrames(ConnectionState):
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
            headers: Headers = self._dec.decode(block)
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
            st = self._streams[sid] = Stream(sid, self._peer_initial_window, self.limits.initial_window)
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
