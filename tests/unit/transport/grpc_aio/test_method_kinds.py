"""Method kinds read from real descriptors, and when a service is asked about (fake clock)."""

from __future__ import annotations

from apex.mesh.v1 import echo_pb2, shop_pb2

from sidecar.transport.grpc_aio.method_kinds import Kind, MethodKinds, kinds_from_files


def _file(module: object) -> bytes:
    return module.DESCRIPTOR.serialized_pb  # type: ignore[attr-defined, no-any-return]


def test_kinds_from_descriptors() -> None:
    kinds = kinds_from_files("apex.mesh.v1.Echo", [_file(shop_pb2), _file(echo_pb2)])
    assert kinds == {
        "/apex.mesh.v1.Echo/Unary": Kind.UNARY,
        "/apex.mesh.v1.Echo/ClientStream": Kind.CLIENT_STREAMING,
        "/apex.mesh.v1.Echo/ServerStream": Kind.SERVER_STREAMING,
        "/apex.mesh.v1.Echo/Bidi": Kind.BIDI,
    }
    assert kinds_from_files("apex.mesh.v1.Nope", [_file(echo_pb2)]) == {}


def test_ask_once_then_again_only_after_an_empty_answer() -> None:
    kinds = MethodKinds(retry_after=60)
    assert kinds.should_ask("a.S", now=0) is True
    assert kinds.should_ask("a.S", now=1) is False  # a lookup is under way
    kinds.learn("a.S", {})  # no reflection there
    assert kinds.should_ask("a.S", now=30) is False
    assert kinds.should_ask("a.S", now=61) is True
    kinds.learn("a.S", {"/a.S/M": Kind.UNARY, "/a.S/N": Kind.BIDI})
    assert kinds.should_ask("a.S", now=10_000) is False  # known for good
    assert kinds.is_unary("/a.S/M") and not kinds.is_unary("/a.S/N") and not kinds.is_unary("/a.S/X")
    assert kinds.snapshot() == {"/a.S/M": "unary", "/a.S/N": "bidi"}
