"""The demo shop: frontend → catalog (and pricing), each a real gRPC service behind a sidecar.

    python -m sidecar.examples.shop catalog  --port 50061 --name catalog-2 --flaky-after 60 --flaky-for 30
    python -m sidecar.examples.shop pricing  --port 50062
    python -m sidecar.examples.shop frontend --port 50060 --sidecar 127.0.0.1:15001

The frontend reaches catalog and pricing only through its own sidecar (sidecar.client). A catalog
has an incident (a share of calls fail UNAVAILABLE, the others are `--slow-ms` slower) from
`--flaky-after` seconds for `--flaky-for` seconds, or between SIGUSR1 and SIGUSR2 (what `apex demo`
sends, on its own timeline).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import random
import signal
import time
from typing import Any

import grpc
import uvloop
from apex.mesh.v1 import shop_pb2, shop_pb2_grpc
from grpc_reflection.v1alpha import reflection as grpc_reflection

from sidecar.client import aio_mesh_channel


class Catalog(shop_pb2_grpc.CatalogServicer):
    """Item lookups; during an incident a share of calls fail UNAVAILABLE and the rest are slower."""

    def __init__(self, name: str, flaky_after: float | None, flaky_rate: float, seed: int = 7,
                 flaky_for: float | None = None, slow_ms: float = 0.0) -> None:  # fmt: skip
        self.name = name
        start = None if flaky_after is None else time.monotonic() + flaky_after
        self.window = (start, None if start is None or flaky_for is None else start + flaky_for)
        self.flaky_rate = flaky_rate
        self.slow = slow_ms / 1e3
        self.rng = random.Random(seed)

    def start_incident(self) -> None:
        self.window = (time.monotonic(), None)

    def end_incident(self) -> None:
        self.window = (None, None)

    def in_incident(self, now: float) -> bool:
        start, end = self.window
        return start is not None and now >= start and (end is None or now < end)

    async def GetItem(self, request: shop_pb2.GetItemRequest, context: Any) -> shop_pb2.Item:
        incident = self.in_incident(time.monotonic())
        await asyncio.sleep(0.002 + self.rng.random() * 0.004 + (self.slow if incident else 0.0))
        if incident and self.rng.random() < self.flaky_rate:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"{self.name} is overloaded")
        return shop_pb2.Item(item_id=request.item_id, name=f"item {request.item_id}", served_by=self.name)


class Pricing(shop_pb2_grpc.PricingServicer):
    """Deterministic, slowish quotes: the method the sidecar's cache is for."""

    async def Quote(self, request: shop_pb2.QuoteRequest, context: Any) -> shop_pb2.Price:
        await asyncio.sleep(0.02)
        cents = int.from_bytes(hashlib.sha256(request.item_id.encode()).digest()[:2], "big") % 10_000 + 99
        return shop_pb2.Price(item_id=request.item_id, cents=cents, currency="EUR")


class Frontend(shop_pb2_grpc.FrontendServicer):
    """Renders an item page from catalog and pricing, both called through the local sidecar."""

    def __init__(self, sidecar: str) -> None:
        self.catalog = shop_pb2_grpc.CatalogStub(aio_mesh_channel("catalog", sidecar=sidecar))
        self.pricing = shop_pb2_grpc.PricingStub(aio_mesh_channel("pricing", sidecar=sidecar))

    async def ViewItem(self, request: shop_pb2.ViewItemRequest, context: Any) -> shop_pb2.ItemPage:
        remaining = context.time_remaining()
        timeout = 2.0 if remaining is None else max(0.0, remaining)
        try:
            item, price = await asyncio.gather(
                self.catalog.GetItem(shop_pb2.GetItemRequest(item_id=request.item_id), timeout=timeout),
                self.pricing.Quote(shop_pb2.QuoteRequest(item_id=request.item_id), timeout=timeout),
            )
        except grpc.aio.AioRpcError as err:
            await context.abort(err.code(), f"frontend: {err.details()}")
        return shop_pb2.ItemPage(item=item, price=price)


async def serve(role: str, port: int, args: argparse.Namespace) -> None:
    server = grpc.aio.server()
    if role == "catalog":
        catalog = Catalog(args.name, args.flaky_after, args.flaky_rate, flaky_for=args.flaky_for, slow_ms=args.slow_ms)
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, catalog.start_incident)
        loop.add_signal_handler(signal.SIGUSR2, catalog.end_incident)
        shop_pb2_grpc.add_CatalogServicer_to_server(catalog, server)
    elif role == "pricing":
        shop_pb2_grpc.add_PricingServicer_to_server(Pricing(), server)
    else:
        shop_pb2_grpc.add_FrontendServicer_to_server(Frontend(args.sidecar), server)
    names = [svc.full_name for svc in shop_pb2.DESCRIPTOR.services_by_name.values()]
    grpc_reflection.enable_server_reflection([*names, grpc_reflection.SERVICE_NAME], server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run one service of the demo shop.")
    parser.add_argument("role", choices=["catalog", "pricing", "frontend"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", default="")
    parser.add_argument("--flaky-after", type=float, default=None, help="catalog: seconds until it turns flaky")
    parser.add_argument("--flaky-rate", type=float, default=0.5, help="catalog: share of calls failing once flaky")
    parser.add_argument("--flaky-for", type=float, default=None, help="catalog: seconds the incident lasts")
    parser.add_argument("--slow-ms", type=float, default=0.0, help="catalog: extra latency during the incident")
    parser.add_argument("--sidecar", default="127.0.0.1:15001", help="frontend: its sidecar's outbound address")
    args = parser.parse_args()
    if not 0 <= args.flaky_rate <= 1 or args.slow_ms < 0 or (args.flaky_for is not None and args.flaky_for <= 0):
        parser.error("--flaky-rate must be in [0, 1], --slow-ms >= 0 and --flaky-for > 0")
    args.name = args.name or args.role
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve(args.role, args.port, args))


if __name__ == "__main__":
    main()
