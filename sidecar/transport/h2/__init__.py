"""Transport `h2`: gRPC over HTTP/2 spoken directly on asyncio/uvloop, with a sans-IO core (docs/data-plane.md)."""

from sidecar.transport.h2.factory import H2Transport


def transport() -> H2Transport:
    return H2Transport()
