"""The transport registry and the per-sidecar Transports holder (sidecar/core/transport.py)."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Mapping

from sidecar.core.service import Connector, Request, Response
from sidecar.core.transport import (
    REGISTRY,
    Listener,
    ListenerSpec,
    Prober,
    Switch,
    Transport,
    Transports,
    known,
    load,
)


def test_every_registered_transport_is_a_package_exposing_transport() -> None:
    assert "grpc" in known()
    for name, path in REGISTRY.items():
        module = importlib.import_module(path)
        assert callable(getattr(module, "transport", None)), f"{path} (transport {name!r}) has no transport()"


def test_the_grpc_transport_builds_listeners_and_one_shared_connector() -> None:
    async def scenario() -> None:
        grpc_transport: Transport = load("grpc")
        connector = grpc_transport.connector()
        assert grpc_transport.connector() is connector  # one pool of connections per transport
        listener = grpc_transport.listener(ListenerSpec("in", "127.0.0.1:0"), Switch(_never_called))
        bound = await listener.start()
        assert bound.startswith("127.0.0.1:") and listener.bound == bound and listener.name == "in"
        await listener.stop(0)
        assert dict(grpc_transport.learned()) == {}
        await grpc_transport.close()

    asyncio.run(scenario())


async def _never_called(request: Request) -> Response:
    raise AssertionError("no call expected")


class _Learned:
    """A transport that only reports what it learned (the holder's bookkeeping, no wire)."""

    def __init__(self, kinds: dict[str, str]) -> None:
        self.kinds = kinds
        self.closed = False

    def listener(self, spec: ListenerSpec, switch: Switch) -> Listener:
        raise NotImplementedError

    def connector(self) -> Connector:
        raise NotImplementedError

    def prober(self) -> Prober:
        raise NotImplementedError

    def learned(self) -> Mapping[str, str]:
        return self.kinds

    def stats(self) -> Mapping[str, int]:
        return {"held_bytes": len(self.kinds)}

    async def close(self) -> None:
        self.closed = True


def test_transports_merge_what_each_learned_and_close_every_one() -> None:
    a, b = _Learned({"/a.S/M": "unary"}), _Learned({"/b.S/N": "bidi"})
    transports = Transports({"a": a, "b": b})
    assert transports.get("a") is a
    assert transports.snapshot() == {"/a.S/M": "unary", "/b.S/N": "bidi"}
    assert transports.stats() == {"a.held_bytes": 1, "b.held_bytes": 1}  # each under its transport's name
    asyncio.run(transports.close())
    assert a.closed and b.closed


def test_transports_load_a_registered_transport_once_on_first_use() -> None:
    transports = Transports()
    first = transports.get("grpc")
    assert transports.get("grpc") is first
    asyncio.run(transports.close())
