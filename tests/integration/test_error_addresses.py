"""Statuses the sidecar generates name no internal address; the upstream's own statuses pass through (issue 15)."""

from __future__ import annotations

import json
import re

import grpc
import pytest
from apex.mesh.v1 import echo_pb2, echo_pb2_grpc

from sidecar.examples.echo import BackgroundEcho
from sidecar.transport.grpc_aio.client import UPSTREAM_UNREACHABLE
from tests.support.observed import observed_config
from tests.support.sidecar_proc import SidecarProcess

pytestmark = pytest.mark.integration

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE}-00f067aa0ba902b7-01"
ADDRESS = re.compile(r"ipv4:|ipv6:|127\.0\.0\.1|\[::1\]")


def call(address: str, status: echo_pb2.EchoStatus | None = None) -> grpc.RpcError:
    with grpc.insecure_channel(address) as channel:
        stub = echo_pb2_grpc.EchoStub(channel)
        with pytest.raises(grpc.RpcError) as failed:
            stub.Unary(echo_pb2.EchoRequest(payload=b"x", status=status), timeout=10,
                       metadata=(("traceparent", TRACEPARENT),))  # fmt: skip
    return failed.value


def test_a_stopped_upstream_is_reported_without_its_address_and_logged_with_the_trace_id() -> None:
    echo = BackgroundEcho().start()
    address = echo.address
    echo.close()  # nothing listens there any more
    config = observed_config(address, service="stopped", logging={"level": "DEBUG"})
    with SidecarProcess(config) as proc:
        failed = call(proc["outbound"])
        log = proc.log()
    assert failed.code() is grpc.StatusCode.UNAVAILABLE
    assert failed.details() == UPSTREAM_UNREACHABLE
    assert not ADDRESS.search(failed.details() or "")
    logged = [json.loads(line) for line in log.splitlines() if line.startswith("{") and UPSTREAM_UNREACHABLE in line]
    assert any(entry.get("trace_id") == TRACE and address.rsplit(":", 1)[1] in entry["detail"] for entry in logged)


def test_the_upstreams_own_status_message_passes_through_unchanged(echo: BackgroundEcho) -> None:
    config = observed_config(echo.address, service="transparent")
    own = "ipv4:10.9.8.7:50051 refused the order"  # the upstream's words, whatever they say
    with SidecarProcess(config) as proc:
        failed = call(proc["outbound"], echo_pb2.EchoStatus(code=grpc.StatusCode.UNAVAILABLE.value[0], message=own))
    assert failed.code() is grpc.StatusCode.UNAVAILABLE and failed.details() == own
