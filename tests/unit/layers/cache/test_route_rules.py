"""Which routes get a cache layer: only those a cache rule could match."""

from __future__ import annotations

import pytest

from sidecar.layers.cache.layer import could_match, rules_for_route
from sidecar.policy.cache_model import CacheMatch, CacheRule
from sidecar.policy.model import PathKind, RouteMatch


def rule(kind: CacheMatch, path: str, listeners: tuple[str, ...] = ()) -> CacheRule:
    return CacheRule(name=f"{kind.value}:{path}", match=kind, path=path, ttl=1.0, listeners=listeners)


M, S, P = CacheMatch.METHOD, CacheMatch.SERVICE, CacheMatch.PREFIX


@pytest.mark.parametrize(
    ("cache", "route_kind", "route_path", "expected"),
    [
        (rule(M, "/a.B/Get"), PathKind.ANY, "", True),
        (rule(M, "/a.B/Get"), PathKind.METHOD, "/a.B/Get", True),
        (rule(M, "/a.B/Get"), PathKind.METHOD, "/a.B/Put", False),
        (rule(M, "/a.B/Get"), PathKind.SERVICE, "a.B", True),
        (rule(M, "/a.B/Get"), PathKind.SERVICE, "a.C", False),
        (rule(M, "/a.B/Get"), PathKind.PREFIX, "/a.", True),
        (rule(M, "/a.B/Get"), PathKind.PREFIX, "/x.", False),
        (rule(S, "a.B"), PathKind.METHOD, "/a.B/Get", True),
        (rule(S, "a.B"), PathKind.METHOD, "/a.BB/Get", False),
        (rule(S, "a.B"), PathKind.SERVICE, "a.B", True),
        (rule(S, "a.B"), PathKind.SERVICE, "a.BB", False),
        (rule(S, "a.B"), PathKind.PREFIX, "/a.B/G", True),
        (rule(S, "a.B"), PathKind.PREFIX, "/a", True),
        (rule(P, "/a.B/Get"), PathKind.SERVICE, "a.B", True),
        (rule(P, "/a.B/Get"), PathKind.SERVICE, "a.C", False),
        (rule(P, "/a.B/Get"), PathKind.METHOD, "/a.B/GetAll", True),
        (rule(P, "/a.B/Get"), PathKind.PREFIX, "/b", False),
    ],
)
def test_could_match(cache: CacheRule, route_kind: PathKind, route_path: str, expected: bool) -> None:
    assert could_match(cache, RouteMatch(path_kind=route_kind, path=route_path)) is expected


def test_rules_for_route_filters_listeners_and_keeps_order() -> None:
    first = rule(P, "/a.B/", listeners=("outbound",))
    second = rule(M, "/a.B/Get")
    other = rule(M, "/z.Z/Get")
    route = RouteMatch(path_kind=PathKind.SERVICE, path="a.B")
    assert rules_for_route((first, second, other), "outbound", route) == (first, second)
    assert rules_for_route((first, second, other), "inbound", route) == (second,)
    assert rules_for_route((other,), "inbound", route) == ()
