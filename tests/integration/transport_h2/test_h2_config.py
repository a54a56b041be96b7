"""Transport h2's connection settings reach the connections: from a sidecar's YAML (a real process)
and from a cluster's settings to the connector that serves it."""

from __future__ import annotations

import socket

import pytest

from benchmarks.targets import inbound_config
from sidecar.core.transport import H2Settings
from sidecar.transport.h2.factory import H2Transport
from tests.support.sidecar_proc import SidecarProcess

pytestmark = pytest.mark.integration


def test_a_listener_header_timeout_from_config_closes_a_silent_connection() -> None:
    config = inbound_config("127.0.0.1:9", "h2")
    config["listeners"][0]["h2"] = {"header_timeout": "0.2s"}
    with SidecarProcess(config) as sidecar:
        host, _, port = sidecar["inbound"].rpartition(":")
        # recv gives up after 5 s: long before the default header timeout (10 s) would close the connection
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(b"PRI * HTTP/2.0\r\n")  # half a preface, then silence (slowloris)
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
    assert received.startswith(b"\x00\x00")  # our SETTINGS, then EOF once the 0.2 s passed


def test_each_cluster_settings_get_their_own_connector_with_those_settings() -> None:
    transport = H2Transport()
    fast = H2Settings(connect_timeout=0.5, keepalive_interval=7.0, stream_window=65_535, connection_window=131_072)
    connector = transport.connector(fast)
    assert transport.connector(H2Settings(**{f: getattr(fast, f) for f in fast.__slots__})) is connector
    assert transport.connector() is transport.connector(H2Settings()) is not connector
    assert (connector.connect_timeout, connector.keepalive) == (0.5, 7.0)
    assert (connector.limits.initial_window, connector.limits.connection_window) == (65_535, 131_072)
