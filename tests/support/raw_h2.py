"""A bare HTTP/2 gRPC call (python-hyper h2 over a socket): sends headers no gRPC client would,
such as a grpc-timeout that has already run out by the time the server reads it."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events


@dataclass
class RawOutcome:
    status: int | None  # grpc-status, None when the stream was reset
    message: str
    headers: dict[str, str] = field(default_factory=dict)  # response headers and trailers merged
    reset: int | None = None  # RST_STREAM error code, if any


def unary(
    address: str, method: str, message: bytes, headers: list[tuple[str, str]], timeout: float = 10.0
) -> RawOutcome:
    """One unary gRPC call to `address` with `headers` added to the request's; waits for the end."""
    host, _, port = address.rpartition(":")
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        conn.initiate_connection()
        request = [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", method),
            (":authority", address),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
            *headers,
        ]
        stream = conn.get_next_available_stream_id()
        conn.send_headers(stream, request)
        conn.send_data(stream, b"\x00" + struct.pack(">I", len(message)) + message, end_stream=True)
        sock.sendall(conn.data_to_send())
        got: dict[str, str] = {}
        reset: int | None = None
        ended = False
        while not ended:
            data = sock.recv(65536)
            if not data:
                break
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived | h2.events.TrailersReceived):
                    got.update({str(k): str(v) for k, v in event.headers})
                elif isinstance(event, h2.events.DataReceived):
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamReset):
                    reset, ended = int(event.error_code), True
                if isinstance(event, h2.events.StreamEnded):
                    ended = True
            sock.sendall(conn.data_to_send())
    status = got.get("grpc-status")
    return RawOutcome(None if status is None else int(status), got.get("grpc-message", ""), got, reset)
