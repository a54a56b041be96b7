"""SIGTERM on a real sidecar: in-flight calls complete, new connections are refused, the process exits 0.

This is what a container runtime relies on (Kubernetes sends SIGTERM, waits terminationGracePeriodSeconds);
readiness and liveness come from grpc.health.v1 on the admin port.
"""

from __future__ import annotations

import signal
import socket
import time

import grpc
import pytest
from apex.mesh.v1 import echo_pb2, echo_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sidecar.examples.echo import BackgroundEcho
from sidecar.support.sidecar_proc import SidecarProcess, proxy_config

pytestmark = pytest.mark.integration


def _refused(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1.0):
            return False
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:  # accepted by the kernel while the listener was closing: poll again
        return False


def _poll(check: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_sigterm_drains_in_flight_calls_refuses_new_ones_and_exits_zero(echo: BackgroundEcho) -> None:
    proc = SidecarProcess(proxy_config(echo.address)).start()
    try:
        with grpc.insecure_channel(proc["admin"]) as admin:
            health = health_pb2_grpc.HealthStub(admin).Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
            assert health.status == health_pb2.HealthCheckResponse.SERVING

        channel = grpc.insecure_channel(proc["inbound"])
        stub = echo_pb2_grpc.EchoStub(channel)
        tags = [f"drain-{i}" for i in range(4)]
        calls = [
            stub.Unary.future(echo_pb2.EchoRequest(payload=b"p", delay_ms=2500, tag=tag), timeout=30) for tag in tags
        ]
        # 1. the calls are in flight: the Echo service has begun every one of them
        assert _poll(lambda: set(tags) <= echo.service.arrived, 20), "calls never reached the upstream"

        assert proc.proc is not None
        proc.proc.send_signal(signal.SIGTERM)

        # 2. the listeners stop accepting: a new connection is refused
        assert _poll(lambda: _refused(proc["inbound"]), 10), "sidecar still accepts connections after SIGTERM"

        # 3. the in-flight calls still complete normally
        for call in calls:
            assert call.result(timeout=30).payload == b"p"
        assert not (set(tags) & echo.service.cancelled)

        # 4. the process exits by itself, with status 0
        assert proc.proc.wait(timeout=20) == 0
        channel.close()
    finally:
        proc.close()
