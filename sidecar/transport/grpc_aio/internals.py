"""The grpc.aio private internals this transport relies on, in one place, checked when imported.

Why we go below grpc.aio's public call API (sidecar/transport/grpc_aio/client.py):
- grpc.aio's `Metadata` groups values by key, reordering interleaved keys: the cython call
  (`call._cython_call`) gives the raw tuples in wire order;
- a request write that loses the race with an upstream's early status (UNIMPLEMENTED before
  the request was read) makes grpc.aio replace that status with INTERNAL "Internal error from
  Core" (grpc/grpc#36066): our own request pump writes through the cython call after
  `call._metadata_sent`, stops once the call is done, and treats cygrpc's InternalError /
  UsageError on a write as "the upstream finished first".

If grpcio moves any of these, importing this module (hence starting a sidecar) fails with
`GrpcInternalsChanged` naming what moved; tests/unit/transport/grpc_aio/test_internals.py
checks them on real calls. There is deliberately no silent fallback to the public API: it
would quietly change what callers see (reordered metadata, INTERNAL instead of the status).
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import grpc
from grpc._cython import cygrpc


class GrpcInternalsChanged(RuntimeError):
    """grpcio no longer has a private internal the grpc transport relies on."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"grpcio {grpc.__version__} changed a private internal the grpc transport relies on: {what}. "
            "Update sidecar/transport/grpc_aio/internals.py (and pin grpcio) before using this version."
        )


class RawStatus(Protocol):
    def code(self) -> int: ...
    def details(self) -> str | None: ...
    def trailing_metadata(self) -> tuple[tuple[str, str | bytes], ...]: ...


class RawCall(Protocol):
    """The part of cygrpc's `_AioCall` we use."""

    async def initial_metadata(self) -> tuple[tuple[str, str | bytes], ...]: ...
    async def status(self) -> RawStatus: ...
    async def send_serialized_message(self, message: bytes) -> None: ...
    async def send_receive_close(self) -> None: ...


_RAW_CALL_METHODS = ("initial_metadata", "status", "send_serialized_message", "send_receive_close")
_ERRORS = ("InternalError", "UsageError")


def check() -> None:
    """Fail loudly when the cygrpc pieces used here are gone (what can be seen without a call)."""
    aio_call = getattr(cygrpc, "_AioCall", None)
    if aio_call is None:
        raise GrpcInternalsChanged("grpc._cython.cygrpc._AioCall is gone")
    for name in _RAW_CALL_METHODS:
        if not callable(getattr(aio_call, name, None)):
            raise GrpcInternalsChanged(f"cygrpc._AioCall.{name}() is gone")
    for name in _ERRORS:
        error = getattr(cygrpc, name, None)
        if not (isinstance(error, type) and issubclass(error, BaseException)):
            raise GrpcInternalsChanged(f"cygrpc.{name} is no longer an exception class")


check()

# A request write that lost the race with the upstream's own status.
WRITE_LOST_RACE: tuple[type[BaseException], ...] = (cygrpc.InternalError, cygrpc.UsageError)


def raw_call(call: Any) -> RawCall:
    """The cython call under a grpc.aio client call (`call._cython_call`)."""
    try:
        raw: RawCall = call._cython_call
    except AttributeError:
        raise GrpcInternalsChanged(f"{type(call).__name__} has no `_cython_call`") from None
    return raw


def metadata_sent(call: Any) -> asyncio.Event:
    """Set once a grpc.aio stream call has sent its initial metadata (`call._metadata_sent`)."""
    try:
        sent: asyncio.Event = call._metadata_sent
    except AttributeError:
        raise GrpcInternalsChanged(f"{type(call).__name__} has no `_metadata_sent`") from None
    return sent
