"""Transport `h2`: gRPC over HTTP/2 spoken directly on asyncio/uvloop, with a sans-IO core (docs/data-plane.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sidecar.transport.h2.factory import H2Transport

if TYPE_CHECKING:
    from sidecar.security.tls import ClientTls


def transport(tls: ClientTls | None = None) -> H2Transport:
    """A fresh h2 transport for one sidecar; with `tls` its connector speaks mTLS to upstreams."""
    return H2Transport(tls=tls)
