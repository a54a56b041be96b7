"""The upstream going down and coming back: UNAVAILABLE while it is down, like a direct call,
and recovery without restarting the sidecar."""

from __future__ import annotations

import time

import grpc
from apex.mesh.v1 import echo_pb2, echo_pb2_grpc

from sidecar.examples.echo import BackgroundEcho
from tests.conformance.traversal import Hop, Watch
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

            hop = Hop("sidecar (inbound)", side["admin"], "inbound")
            upstream.stop()
            assert _code(direct) == grpc.StatusCode.UNAVAILABLE
            watch = Watch([hop])
            assert [_code(proxied) for _ in range(5)] == [grpc.StatusCode.UNAVAILABLE] * 5
            watch.expect(5, {"UNAVAILABLE": 5})  # the sidecar answered them, not a missing hop

            upstream.restart()
            deadline = time.monotonic() + 15
            while _code(proxied) != grpc.StatusCode.OK:
                assert time.monotonic() < deadline, "sidecar did not recover after the upstream came back"
                time.sleep(0.1)
            assert side.proc is not None and side.proc.poll() is None  # same sidecar process
            watch = Watch([hop])
            assert _code(proxied) == grpc.StatusCode.OK
            watch.expect(1, {"OK": 1})
            hop.close()
    finally:
        upstream.close()
