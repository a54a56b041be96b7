"""Traffic split decisions: weights converge, header overrides win, fallback on an unhealthy cluster."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.core.call import CallDescriptor, Code, Status
from sidecar.core.service import BufferedResponse, Request, Response, no_messages
from sidecar.layers import split
from sidecar.policy.route_model import ClusterOverride, Split
from sidecar.telemetry.registry import RouteDecisions

CALL = CallDescriptor(method="/pkg.S/M")


def _always(_: str) -> bool:
    return True


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    weights=st.lists(st.integers(0, 100), min_size=1, max_size=5).filter(lambda ws: sum(ws) > 0),
    seed=st.integers(0, 2**32 - 1),
)
def test_weighted_choices_converge_to_their_weights(weights: list[int], seed: int) -> None:
    clusters = tuple((f"c{i}", w) for i, w in enumerate(weights))
    policy = Split(clusters=clusters)
    table = split.Weights(clusters)
    rng = random.Random(seed)
    n = 10_000
    seen = Counter(split.choose(policy, table, CALL, rng, _always).cluster for _ in range(n))
    total = sum(weights)
    for name, w in clusters:
        share = seen[name] / n
        expected = w / total
        # 5 standard deviations of a binomial share: fails by chance about once in 3.5 million.
        tolerance = 5 * (expected * (1 - expected) / n) ** 0.5 + 1e-9
        assert abs(share - expected) <= tolerance, (name, share, expected)
        if w == 0:
            assert seen[name] == 0


def test_a_seeded_split_is_reproducible() -> None:
    policy = Split(clusters=(("v1", 90), ("v2", 10)))
    table = split.Weights(policy.clusters)
    picks = []
    for _ in range(2):
        rng = random.Random(3)
        picks.append([split.choose(policy, table, CALL, rng, _always).cluster for _ in range(200)])
    assert picks[0] == picks[1]
    assert set(picks[0]) == {"v1", "v2"}


def test_header_override_wins_over_weights_and_health() -> None:
    policy = Split(
        clusters=(("v1", 100), ("v2", 0)),
        overrides=(ClusterOverride("x-canary", "true", "v2"), ClusterOverride("x-debug", None, "debug")),
    )
    table = split.Weights(policy.clusters)
    rng = random.Random(0)
    canary = CallDescriptor(method="/p.S/M", metadata=(("x-canary", "true"),))
    assert split.choose(policy, table, canary, rng, lambda _: False) == split.Choice("v2", split.Reason.OVERRIDE)
    other = CallDescriptor(method="/p.S/M", metadata=(("x-canary", "false"),))
    assert split.choose(policy, table, other, rng, _always) == split.Choice("v1", split.Reason.WEIGHT)
    present = CallDescriptor(method="/p.S/M", metadata=(("x-debug", b"anything"),))
    assert split.choose(policy, table, present, rng, _always).cluster == "debug"


def test_fallback_only_when_the_pick_is_unhealthy_and_the_fallback_is_healthy() -> None:
    policy = Split(clusters=(("primary", 1),), fallback="backup")
    table = split.Weights(policy.clusters)
    rng = random.Random(0)
    assert split.choose(policy, table, CALL, rng, _always).reason is split.Reason.WEIGHT
    down = {"primary"}
    choice = split.choose(policy, table, CALL, rng, lambda name: name not in down)
    assert choice == split.Choice("backup", split.Reason.FALLBACK)
    down = {"primary", "backup"}  # nowhere better to go: keep the pick (it fails UNAVAILABLE)
    assert split.choose(policy, table, CALL, rng, lambda name: name not in down).cluster == "primary"


def test_weights_need_a_positive_weight() -> None:
    with pytest.raises(ValueError):
        split.Weights((("a", 0),))


def test_split_service_dispatches_and_counts() -> None:
    arrived: Counter[str] = Counter()

    def cluster(name: str):  # type: ignore[no-untyped-def]
        async def service(request: Request) -> Response:
            arrived[name] += 1
            return BufferedResponse(Status(Code.OK))

        return service

    policy = Split(clusters=(("v1", 3), ("v2", 1)), overrides=(ClusterOverride("x-canary", "true", "v2"),))
    counters = RouteDecisions("l", "r")
    svc = split.service(policy, {"v1": cluster("v1"), "v2": cluster("v2")}, _always, random.Random(5), counters)

    async def run() -> None:
        for _ in range(400):
            await svc(Request(CALL, no_messages()))
        for _ in range(10):
            await svc(Request(CallDescriptor(method="/p.S/M", metadata=(("x-canary", "true"),)), no_messages()))

    asyncio.run(run())
    assert arrived == counters.split
    assert counters.header_overrides == 10
    assert 250 < counters.split["v1"] < 350
    assert counters.split["v1"] + counters.split["v2"] == 410
