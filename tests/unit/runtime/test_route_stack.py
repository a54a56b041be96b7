"""Route stacks built from policy: layers only when configured, state kept across swaps, composition works."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import yaml

from sidecar.config.bootstrap import parse_yaml, validate
from sidecar.core.call import CallDescriptor, Code, Status
from sidecar.core.service import BufferedResponse, Request, no_messages
from sidecar.policy.model import Bootstrap
from sidecar.runtime import stack


def _bootstrap(routes: list[dict[str, Any]], seed: int = 3) -> Bootstrap:
    config = {
        "listeners": [{"name": "out", "address": "127.0.0.1:0", "direction": "OUTBOUND"}],
        "policy": {
            "route_defaults": {"random_seed": seed},
            "route_tables": [{"name": "out", "routes": routes}],
            "clusters": [
                {"name": "v1", "endpoints": [{"address": "10.0.0.1:1"}]},
                {"name": "v2", "endpoints": [{"address": "10.0.0.2:1"}]},
            ],
        },
    }
    return validate(parse_yaml(yaml.safe_dump(config), "t"), "t")


class Upstreams:
    """A connector answering by endpoint address; "10.0.0.1:1" can be told to fail."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.failing: set[str] = set()

    async def __call__(self, address: str, authority: str, request: Request) -> BufferedResponse:
        self.calls[address] += 1
        async for _ in request.messages:
            pass
        if address in self.failing:
            return BufferedResponse(Status(Code.UNAVAILABLE, "down"))
        return BufferedResponse(Status(Code.OK), [address.encode()], (("h", "1"),))


def _drive(router: Any, n: int) -> Counter[Code]:
    async def run() -> Counter[Code]:
        codes: Counter[Code] = Counter()
        for _ in range(n):
            request = Request(CallDescriptor(method="/p.S/M", listener="out"), no_messages())
            response = await router(request)
            await response.initial_metadata()
            while await response.read() is not None:
                pass
            status = await response.status()
            request.finish(status)
            codes[status.code] += 1
        return codes

    return asyncio.run(run())


def test_a_route_without_policy_gets_no_extra_layer() -> None:
    boot = _bootstrap([{"name": "plain", "cluster": "v1"}])
    state = stack.State()
    stack.build(boot.policy, boot.listeners, state, lambda _transport: Upstreams())
    assert state.route_stacks[("out", "plain")] == ("metrics", "deadline", "cluster:v1")


def test_split_and_retries_compose_over_clusters() -> None:
    retry = {"max_attempts": 5, "idempotent_methods": ["*"], "backoff_base": "1ms", "backoff_max": "1ms"}
    boot = _bootstrap(
        [
            {
                "name": "r",
                "clusters": [{"cluster": "v1", "weight": 1}, {"cluster": "v2", "weight": 1}],
                "retry": {**retry, "budget": {"retry_percent": 100}},
            }
        ]
    )
    upstreams = Upstreams()
    upstreams.failing.add("10.0.0.1:1")  # v1 is down: retries land on v2 by the split
    state = stack.State()
    routers = stack.build(boot.policy, boot.listeners, state, lambda _transport: upstreams)
    codes = _drive(routers["out"], 200)
    counters = state.telemetry.decisions[("out", "r")]
    assert codes[Code.OK] >= 185  # fails only when 5 attempts in a row pick v1 (1/32)
    calls = {key[:2]: series.started for key, series in state.telemetry.current_routes()}
    assert calls[("out", "r")] == 200 and counters.retries == upstreams.calls["10.0.0.1:1"] - (200 - codes[Code.OK])
    assert (
        counters.split["v1"] == upstreams.calls["10.0.0.1:1"] and counters.split["v2"] == upstreams.calls["10.0.0.2:1"]
    )


def test_state_survives_a_swap_while_its_config_is_unchanged() -> None:
    routes = [
        {
            "name": "r",
            "clusters": [{"cluster": "v1", "weight": 9}, {"cluster": "v2", "weight": 1}],
            "retry": {"idempotent_methods": ["*"]},
            "rate_limit": {"requests_per_second": 5},
        },
        {"name": "gone", "cluster": "v1", "rate_limit": {"requests_per_second": 1}},
    ]
    state = stack.State()
    upstreams = Upstreams()
    boot = _bootstrap(routes)
    stack.build(boot.policy, boot.listeners, state, lambda _transport: upstreams)
    budget = state.routes.budgets[("out", "r")][1]
    limiter = state.routes.limiters[("out", "r")][1]
    counters = state.telemetry.decisions[("out", "r")]

    # New weights only: budget, bucket and counters carry over.
    routes[0]["clusters"] = [{"cluster": "v1", "weight": 1}, {"cluster": "v2", "weight": 9}]
    boot = _bootstrap(routes)
    stack.build(boot.policy, boot.listeners, state, lambda _transport: upstreams)
    assert state.routes.budgets[("out", "r")][1] is budget
    assert state.routes.limiters[("out", "r")][1] is limiter
    assert state.telemetry.decisions[("out", "r")] is counters

    # A new rate and a removed route: a fresh bucket, the removed route's bucket is dropped.
    routes[0]["rate_limit"] = {"requests_per_second": 50}
    boot = _bootstrap(routes[:1])
    stack.build(boot.policy, boot.listeners, state, lambda _transport: upstreams)
    assert state.routes.limiters[("out", "r")][1] is not limiter
    assert state.routes.budgets[("out", "r")][1] is budget
    assert ("out", "gone") not in state.routes.limiters
    assert ("out", "gone") in state.telemetry.decisions  # counters stay for the admin


def test_the_same_seed_gives_the_same_split() -> None:
    routes = [{"name": "r", "clusters": [{"cluster": "v1", "weight": 1}, {"cluster": "v2", "weight": 1}]}]
    seen = []
    for _ in range(2):
        upstreams = Upstreams()
        boot = _bootstrap(routes, seed=11)
        routers = stack.build(boot.policy, boot.listeners, stack.State(), lambda _transport, u=upstreams: u)
        _drive(routers["out"], 50)
        seen.append(dict(upstreams.calls))
    assert seen[0] == seen[1]
