"""Observable outcome of a call, normalised so a direct call and a proxied one can be compared."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import grpc
from apex.mesh.v1 import echo_pb2


@dataclass
class Outcome:
    code: grpc.StatusCode
    details: str | None
    initial_metadata: list[tuple[str, Any]]
    trailing_metadata: list[tuple[str, Any]]
    responses: list[tuple[bytes, int, str]] = field(default_factory=list)


def _user_metadata(md: Iterable[Any] | None) -> list[tuple[str, Any]]:
    """Metadata pairs in order, without the transport's own keys."""
    return [(m[0], m[1]) for m in md or () if not m[0].startswith("grpc-") and m[0] != "user-agent"]


def _response(r: echo_pb2.EchoResponse) -> tuple[bytes, int, str]:
    return (r.payload, r.index, r.served_by)


def unary(stub: Any, request: echo_pb2.EchoRequest, **kw: Any) -> Outcome:
    try:
        reply, call = stub.Unary.with_call(request, **kw)
    except grpc.RpcError as err:
        return Outcome(
            err.code(), err.details(), _user_metadata(err.initial_metadata()), _user_metadata(err.trailing_metadata())
        )
    return Outcome(
        call.code(),
        call.details(),
        _user_metadata(call.initial_metadata()),
        _user_metadata(call.trailing_metadata()),
        [_response(reply)],
    )


def client_stream(stub: Any, requests: list[echo_pb2.EchoRequest], **kw: Any) -> Outcome:
    try:
        reply, call = stub.ClientStream.with_call(iter(requests), **kw)
    except grpc.RpcError as err:
        return Outcome(
            err.code(), err.details(), _user_metadata(err.initial_metadata()), _user_metadata(err.trailing_metadata())
        )
    return Outcome(
        call.code(),
        call.details(),
        _user_metadata(call.initial_metadata()),
        _user_metadata(call.trailing_metadata()),
        [_response(reply)],
    )


def _drain(call: Any) -> Outcome:
    responses = []
    try:
        for r in call:
            responses.append(_response(r))
    except grpc.RpcError:
        pass
    return Outcome(
        call.code(),
        call.details(),
        _user_metadata(call.initial_metadata()),
        _user_metadata(call.trailing_metadata()),
        responses,
    )


def server_stream(stub: Any, request: echo_pb2.EchoRequest, **kw: Any) -> Outcome:
    return _drain(stub.ServerStream(request, **kw))


def bidi(stub: Any, requests: list[echo_pb2.EchoRequest], **kw: Any) -> Outcome:
    return _drain(stub.Bidi(iter(requests), **kw))


Case = Callable[[Any], Outcome]
