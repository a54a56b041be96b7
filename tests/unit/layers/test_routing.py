"""Route selection: authority, path kinds, header rules, first match wins."""

from __future__ import annotations

import asyncio

from sidecar.core.call import CallDescriptor, Code, Status
from sidecar.core.service import BufferedResponse, Request, Response, no_messages
from sidecar.layers.routing import Router, select
from sidecar.policy.model import HeaderMatch, HeaderRule, PathKind, Route, RouteMatch, RouteTable

TABLE = RouteTable(
    name="outbound",
    routes=(
        Route("canary", "pricing-v2", RouteMatch(path_kind=PathKind.SERVICE, path="shop.Pricing",
              headers=(HeaderMatch("x-canary", HeaderRule.EXACT, "true"),))),
        Route("pricing", "pricing", RouteMatch(path_kind=PathKind.SERVICE, path="shop.Pricing")),
        Route("get-only", "catalog", RouteMatch(path_kind=PathKind.METHOD, path="/shop.Catalog/Get")),
        Route("by-prefix", "admin", RouteMatch(path_kind=PathKind.PREFIX, path="/shop.Admin")),
        Route("by-authority", "legacy", RouteMatch(authority="legacy")),
        Route("not-internal", "public", RouteMatch(headers=(HeaderMatch("x-internal", HeaderRule.PRESENT,
              invert=True),))),
    ),
)  # fmt: skip


def route_for(method: str, authority: str = "", **headers: str) -> str | None:
    call = CallDescriptor(method=method, authority=authority, metadata=tuple(headers.items()))
    route = select(TABLE, call)
    return None if route is None else route.name


def test_first_match_wins() -> None:
    assert route_for("/shop.Pricing/Quote", **{"x-canary": "true"}) == "canary"
    assert route_for("/shop.Pricing/Quote", **{"x-canary": "false"}) == "pricing"
    assert route_for("/shop.Pricing/Quote") == "pricing"


def test_method_prefix_authority_and_inverted_presence() -> None:
    assert route_for("/shop.Catalog/Get") == "get-only"
    assert route_for("/shop.Catalog/List") == "not-internal"
    assert route_for("/shop.AdminService/Purge") == "by-prefix"
    assert route_for("/any.Thing/Do", authority="legacy") == "by-authority"
    assert route_for("/any.Thing/Do", **{"x-internal": "1"}) is None


def test_service_property_and_headers() -> None:
    call = CallDescriptor(method="/a.b.C/D", metadata=(("k", "1"), ("k", "2"), ("b-bin", b"\x00")))
    assert call.service == "a.b.C"
    assert call.header("k") == "1"
    assert call.header("missing") is None


def test_router_answers_unimplemented_and_counts() -> None:
    seen: list[str] = []

    async def ok(request: Request) -> Response:
        seen.append(request.call.method)
        return BufferedResponse(Status(Code.OK), [b"x"])

    router = Router(TABLE, {r.name: ok for r in TABLE.routes})

    async def run() -> tuple[Status, Status]:
        routed = await router(Request(CallDescriptor("/shop.Catalog/Get"), no_messages()))
        unrouted = await router(Request(CallDescriptor("/x.Y/Z", metadata=(("x-internal", "1"),)), no_messages()))
        return await routed.status(), await unrouted.status()

    routed, unrouted = asyncio.run(run())
    assert routed.ok and seen == ["/shop.Catalog/Get"]
    assert unrouted.code is Code.UNIMPLEMENTED and "no route for /x.Y/Z" in unrouted.details
    assert router.unrouted == 1
