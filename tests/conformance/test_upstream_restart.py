"""The upstream going down and coming back: UNAVAILABLE while it is down, like a direct call,
and recovery without restarting the sidecar."""

from __future__ import annotations

import time

import grpc
from apex.mesh.v1 import echo_pb2, echo_pb2_grpc

from sidecar.examples.echo import BackgroundEcho
from tests.support.sidecar_proc import SidecarProcess, proxy_config


def _code(stub: echo_pb2_grpc.EchoStub) -> grpc.StatusCode:
    try:
        stub.Unary(echo_pb2.EchoRequest(payload=b"ping"), timeout=5)
    except grpc.RpcError as err:
        return err.code()
    return grpc.StatusCode.OK


def test_upstream_down_then_back() -> None:
    upstream = BackgroundEcho("restarting").start()
    try:
        with SidecarProcess(proxy_config(upstream.address)) as side:
            direct = echo_pb2_grpc.EchoStub(grpc.insecure_channel(upstream.address))
            proxied = echo_pb2_grpc.EchoStub(grpc.insecure_channel(side["inbound"]))
            assert _code(direct) == _code(proxied) == grpc.StatusCode.OK

            upstream.stop()
            assert _code(direct) == grpc.StatusCode.UNAVAILABLE
            assert [_code(proxied) for _ in range(5)] == [grpc.StatusCode.UNAVAILABLE] * 5

            upstream.restart()
            deadline = time.monotonic() + 15
            while _code(proxied) != grpc.StatusCode.OK:
                assert time.monotonic() < deadline, "sidecar did not recover after the upstream came back"
                time.sleep(0.1)
            assert side.proc is not None and side.proc.poll() is None  # same sidecar process
    finally:
        upstream.close()
