"""Hardening c (wire part): a listener's message and header-list limits, through a real sidecar.

Over a limit the caller gets what a gRPC server gives (RESOURCE_EXHAUSTED) and the call never
reaches the upstream; under it, calls pass untouched (docs/limits.md).
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from apex.mesh.v1 import echo_pb2, echo_pb2_grpc

from sidecar.support.sidecar_proc import SidecarProcess, proxy_config
from tests.integration.wire_upstream import WireUpstream

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
UNLIMITED = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]


@pytest.fixture(scope="module")
def upstream() -> Iterator[WireUpstream]:
    server = WireUpstream().start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def limited(upstream: WireUpstream) -> Iterator[echo_pb2_grpc.EchoStub]:
    """A sidecar whose inbound listener takes 1 MiB messages and 4 KiB of metadata."""
    config = proxy_config(upstream.address)
    config["listeners"][0]["limits"] = {"max_message_bytes": MiB, "max_metadata_bytes": 4096}
    with SidecarProcess(config) as sidecar, grpc.insecure_channel(sidecar["inbound"], options=UNLIMITED) as channel:
        yield echo_pb2_grpc.EchoStub(channel)


@pytest.fixture(scope="module")
def defaults(upstream: WireUpstream) -> Iterator[echo_pb2_grpc.EchoStub]:
    with (
        SidecarProcess(proxy_config(upstream.address)) as sidecar,
        grpc.insecure_channel(sidecar["inbound"], options=UNLIMITED) as channel,
    ):
        yield echo_pb2_grpc.EchoStub(channel)


def _code(stub: echo_pb2_grpc.EchoStub, request: echo_pb2.EchoRequest, **kw: object) -> grpc.StatusCode:
    try:
        stub.Unary(request, timeout=30, **kw)
    except grpc.RpcError as err:
        return err.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def test_a_message_over_the_limit_is_resource_exhausted_and_never_forwarded(
    limited: echo_pb2_grpc.EchoStub, upstream: WireUpstream
) -> None:
    assert _code(limited, echo_pb2.EchoRequest(payload=b"x" * (MiB // 2), tag="half")) is grpc.StatusCode.OK
    big = echo_pb2.EchoRequest(payload=b"x" * (2 * MiB), tag="too-big")
    assert _code(limited, big) is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "half" in upstream.service.arrived
    assert "too-big" not in upstream.service.arrived


def test_metadata_over_the_limit_is_resource_exhausted_and_never_forwarded(
    limited: echo_pb2_grpc.EchoStub, upstream: WireUpstream
) -> None:
    small = echo_pb2.EchoRequest(payload=b"m", tag="meta-ok")
    assert _code(limited, small, metadata=[("x-pad", "a" * 3000)]) is grpc.StatusCode.OK
    # Many keys, each small: what counts is the whole header list (~6 KB: under grpc's own
    # defaults, so only the configured 4 KiB limit refuses it).
    padding = [(f"x-pad-{i}", "a" * 500) for i in range(12)]
    large = echo_pb2.EchoRequest(payload=b"m", tag="meta-large")
    for _ in range(3):  # the same answer every time (soft = hard limit: no random rejections)
        assert _code(limited, large, metadata=padding) is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "meta-ok" in upstream.service.arrived
    assert "meta-large" not in upstream.service.arrived


def test_default_limits_pass_normal_large_messages_and_bound_huge_ones(
    defaults: echo_pb2_grpc.EchoStub, upstream: WireUpstream
) -> None:
    # The conformance suite's largest messages are 5-6 MB: well under the 16 MiB default.
    assert _code(defaults, echo_pb2.EchoRequest(payload=b"x" * (6 * MiB))) is grpc.StatusCode.OK
    huge = echo_pb2.EchoRequest(payload=b"x" * (17 * MiB), tag="huge")
    assert _code(defaults, huge) is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "huge" not in upstream.service.arrived
