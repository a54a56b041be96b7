"""The cache layer with a fake clock and an in-process upstream service."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from sidecar.core.call import CallDescriptor, Code, Metadata, Status
from sidecar.core.service import BufferedResponse, Request, Response, local_error
from sidecar.layers.cache.layer import Cache
from sidecar.layers.cache.state import CacheState
from sidecar.policy.cache_model import CacheBounds, CacheMatch, CacheRule

METHOD = "/demo.Catalog/Get"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Upstream:
    """An upstream Service answering b"<request>#<n>"; `gate` holds answers, `status` fails them."""

    def __init__(self) -> None:
        self.calls = 0
        self.cancelled = 0
        self.finished: list[Status] = []
        self.gate: asyncio.Event | None = None
        self.status = Status(Code.OK)
        self.headers: Metadata = (("content-type", "application/grpc"),)

    async def __call__(self, request: Request) -> Response:
        self.calls += 1
        n = self.calls
        request.on_finish(self.finished.append)
        body = b"".join([m async for m in request.messages])
        if self.gate is not None:
            try:
                await self.gate.wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        if not self.status.ok:
            return BufferedResponse(self.status)
        return BufferedResponse(Status(Code.OK, "", (("t", "1"),)), [body + b"#%d" % n], self.headers)


async def messages(*items: bytes) -> AsyncIterator[bytes]:
    for item in items:
        yield item


def rule(**kw: Any) -> CacheRule:
    base: dict[str, Any] = {"name": "get", "match": CacheMatch.METHOD, "path": METHOD, "ttl": 10.0}
    base.update(kw)
    return CacheRule(**base)


class Rig:
    def __init__(self, *rules: CacheRule, bounds: CacheBounds | None = None) -> None:
        self.clock = Clock()
        self.upstream = Upstream()
        self.state = CacheState(bounds)
        self.state.update_rules(rules or (rule(),))
        self.service = Cache(self.state, self.state.rules, "backend", self.clock)(self.upstream)

    async def call(
        self, body: bytes = b"req", metadata: Metadata = (), deadline: float | None = None, method: str = METHOD
    ) -> tuple[Metadata, list[bytes], Status]:
        call = CallDescriptor(method=method, metadata=metadata, deadline=deadline)
        response = await self.service(Request(call, messages(body)))
        headers = await response.initial_metadata()
        out = []
        while (m := await response.read()) is not None:
            out.append(m)
        return headers, out, await response.status()

    def stats(self, method: str = METHOD) -> Any:
        return self.state.snapshot().method(method)


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(test())


def tag(headers: Metadata) -> str | None:
    return next((str(v) for k, v in headers if k == "x-apex-cache"), None)


def test_hit_does_not_touch_upstream_and_keeps_headers_and_trailers() -> None:
    async def go() -> None:
        rig = Rig()
        _, first, _ = await rig.call()
        headers, second, status = await rig.call()
        assert rig.upstream.calls == 1
        assert first == second == [b"req#1"]
        assert status.ok and status.trailing_metadata == (("t", "1"), ("x-apex-cache", "hit"), ("age", "0"))
        assert headers == (("content-type", "application/grpc"),)
        s = rig.stats()
        assert (s.hits, s.misses, s.stores, s.entries) == (1, 1, 1, 1)

    run(go)


def test_a_hit_closes_the_unread_request_stream() -> None:
    async def go() -> None:
        rig = Rig()
        await rig.call()
        closed = []

        async def stream() -> AsyncIterator[bytes]:
            try:
                yield b"req"
                yield b"never read"
            finally:
                closed.append(True)

        response = await rig.service(Request(CallDescriptor(method=METHOD), stream()))
        assert await response.read() == b"req#1" and closed == [True]

    run(go)


def test_ttl_expiry_refetches() -> None:
    async def go() -> None:
        rig = Rig(rule(ttl=10.0))
        await rig.call()
        rig.clock.now += 9.9
        await rig.call()
        assert rig.upstream.calls == 1
        rig.clock.now += 0.2
        _, body, _ = await rig.call()
        assert rig.upstream.calls == 2 and body == [b"req#2"]

    run(go)


def test_different_requests_and_uncovered_methods() -> None:
    async def go() -> None:
        rig = Rig()
        await rig.call(b"a")
        await rig.call(b"b")
        await rig.call(b"a")
        assert rig.upstream.calls == 2
        await rig.call(b"a", method="/demo.Catalog/Put")
        await rig.call(b"a", method="/demo.Catalog/Put")
        assert rig.upstream.calls == 4  # no rule: passes through
        assert rig.stats("/demo.Catalog/Put") is None

    run(go)


def test_vary_keys_separate_tenants() -> None:
    async def go() -> None:
        rig = Rig(rule(vary=("x-tenant",)))
        _, a, _ = await rig.call(metadata=(("x-tenant", "a"), ("x-request-id", "1")))
        _, b, _ = await rig.call(metadata=(("x-tenant", "b"),))
        _, a2, _ = await rig.call(metadata=(("x-request-id", "2"), ("x-tenant", "a")))
        assert rig.upstream.calls == 2 and a == a2 != b

    run(go)


def test_response_no_store_and_max_age() -> None:
    async def go() -> None:
        rig = Rig(rule(ttl=60.0))
        rig.upstream.headers = (("cache-control", "no-store"),)
        await rig.call()
        await rig.call()
        assert rig.upstream.calls == 2 and rig.stats().not_stored == 2
        rig.upstream.headers = (("cache-control", "max-age=2"),)
        await rig.call(b"short")
        rig.clock.now += 1.5
        await rig.call(b"short")
        assert rig.upstream.calls == 3
        rig.clock.now += 1.0  # past max-age, long before the policy TTL
        await rig.call(b"short")
        assert rig.upstream.calls == 4

    run(go)


def test_request_no_cache_and_bypass_refresh_the_entry() -> None:
    async def go() -> None:
        rig = Rig()
        await rig.call()
        _, fresh, _ = await rig.call(metadata=(("cache-control", "no-cache"),))
        assert rig.upstream.calls == 2 and fresh == [b"req#2"]
        _, cached, _ = await rig.call()
        assert rig.upstream.calls == 2 and cached == [b"req#2"]  # the refresh replaced the entry
        _, bypassed, _ = await rig.call(metadata=(("x-apex-cache", "bypass"),))
        assert rig.upstream.calls == 3 and bypassed == [b"req#3"]
        assert rig.stats().bypasses == 2

    run(go)


def test_errors_are_relayed_and_not_stored() -> None:
    async def go() -> None:
        rig = Rig()
        rig.upstream.status = Status(Code.NOT_FOUND, "no such item")
        _, _, status = await rig.call()
        _, _, status2 = await rig.call()
        assert status.code is status2.code is Code.NOT_FOUND and rig.upstream.calls == 2
        assert rig.stats().not_stored == 2 and rig.stats().entries == 0

    run(go)


def test_multi_message_requests_are_relayed_but_never_stored() -> None:
    async def go() -> None:
        rig = Rig()
        for _ in range(2):
            call = CallDescriptor(method=METHOD)
            response = await rig.service(Request(call, messages(b"a", b"b")))
            assert await response.read() is not None
        assert rig.upstream.calls == 2 and rig.stats().entries == 0

    run(go)


def test_concurrent_misses_make_one_upstream_call() -> None:
    async def go() -> None:
        rig = Rig()
        rig.upstream.gate = asyncio.Event()
        calls = [asyncio.create_task(rig.call()) for _ in range(10)]
        await asyncio.sleep(0.01)
        rig.upstream.gate.set()
        results = await asyncio.gather(*calls)
        assert rig.upstream.calls == 1
        assert all(body == [b"req#1"] and status.ok for _, body, status in results)
        s = rig.stats()
        assert (s.misses, s.coalesced, s.stores) == (10, 9, 1)
        assert len(rig.upstream.finished) == 1 and rig.upstream.finished[0].ok

    run(go)


def test_cancelled_waiter_does_not_cancel_the_shared_upstream_call() -> None:
    async def go() -> None:
        rig = Rig()
        rig.upstream.gate = asyncio.Event()
        leader = asyncio.create_task(rig.call())
        await asyncio.sleep(0)
        waiters = [asyncio.create_task(rig.call()) for _ in range(3)]
        await asyncio.sleep(0.01)
        leader.cancel()  # the caller that started the upstream call goes away
        waiters[0].cancel()
        await asyncio.sleep(0.01)
        rig.upstream.gate.set()
        with pytest.raises(asyncio.CancelledError):
            await leader
        with pytest.raises(asyncio.CancelledError):
            await waiters[0]
        for waiter in waiters[1:]:
            _, body, status = await waiter
            assert status.ok and body == [b"req#1"]
        assert rig.upstream.calls == 1 and rig.upstream.cancelled == 0

    run(go)


def test_last_waiter_leaving_cancels_the_upstream_call() -> None:
    async def go() -> None:
        rig = Rig()
        rig.upstream.gate = asyncio.Event()
        only = asyncio.create_task(rig.call())
        await asyncio.sleep(0.01)
        only.cancel()
        with pytest.raises(asyncio.CancelledError):
            await only
        await asyncio.sleep(0.01)
        assert rig.upstream.cancelled == 1
        assert rig.upstream.finished[0].code is Code.CANCELLED
        assert len(rig.state.flights) == 0

    run(go)


def test_waiter_respects_its_own_deadline() -> None:
    async def go() -> None:
        rig = Rig()
        rig.upstream.gate = asyncio.Event()
        leader = asyncio.create_task(rig.call())
        await asyncio.sleep(0)
        _, _, status = await rig.call(deadline=rig.clock.now + 0.01)
        assert status.code is Code.DEADLINE_EXCEEDED
        rig.upstream.gate.set()
        _, body, leader_status = await leader
        assert leader_status.ok and body == [b"req#1"] and rig.upstream.calls == 1

    run(go)


def test_stale_while_revalidate_serves_stale_and_refreshes_once() -> None:
    async def go() -> None:
        rig = Rig(rule(ttl=10.0, stale_while_revalidate=30.0))
        await rig.call()
        rig.clock.now += 15.0
        rig.upstream.gate = asyncio.Event()
        served = [await rig.call() for _ in range(5)]
        assert all(body == [b"req#1"] and tag(st.trailing_metadata) == "stale" for _, body, st in served)
        await asyncio.sleep(0.01)  # let the background refresh reach the upstream
        assert rig.upstream.calls == 2  # one background refresh for five stale answers
        rig.upstream.gate.set()
        for _ in range(100):
            if rig.stats().stores == 2:
                break
            await asyncio.sleep(0.001)
        _, body, status = await rig.call()
        assert body == [b"req#2"] and tag(status.trailing_metadata) == "hit"
        s = rig.stats()
        assert (s.stale_while_revalidate, s.revalidations) == (5, 1)
        rig.clock.now += 10.0 + 30.0  # past both windows: a plain miss
        await rig.call()
        assert rig.upstream.calls == 3

    run(go)


def test_stale_if_error_within_bound_only() -> None:
    async def go() -> None:
        rig = Rig(rule(ttl=10.0, stale_if_error=60.0))
        await rig.call()
        rig.upstream.status = Status(Code.UNAVAILABLE, "upstream down")
        rig.clock.now += 30.0
        _, body, status = await rig.call()
        assert status.ok and body == [b"req#1"] and tag(status.trailing_metadata) == "stale"
        rig.upstream.status = Status(Code.INVALID_ARGUMENT, "bad")  # an answer, not a failure
        _, _, status = await rig.call()
        assert status.code is Code.INVALID_ARGUMENT
        rig.upstream.status = Status(Code.UNAVAILABLE, "upstream down")
        rig.clock.now += 40.0  # 70 s past expiry: beyond the bound
        _, _, status = await rig.call()
        assert status.code is Code.UNAVAILABLE
        assert rig.stats().stale_if_error == 1

    run(go)


def test_stale_if_error_covers_a_local_breaker_refusal() -> None:
    async def go() -> None:
        clock = Clock()
        state = CacheState()
        state.update_rules((rule(stale_if_error=60.0),))
        upstream = Upstream()
        open_breaker = False

        async def breaker(request: Request) -> Response:
            if open_breaker:
                return local_error(Code.UNAVAILABLE, "apex: circuit open")
            return await upstream(request)

        service = Cache(state, state.rules, "backend", clock)(breaker)
        await service(Request(CallDescriptor(method=METHOD), messages(b"r")))
        open_breaker = True
        clock.now += 20.0
        response = await service(Request(CallDescriptor(method=METHOD), messages(b"r")))
        assert await response.read() == b"r#1" and (await response.status()).ok

    run(go)


def test_shadow_mode_counts_but_always_calls_upstream() -> None:
    async def go() -> None:
        rig = Rig(rule(enforced=False, stale_if_error=60.0))
        for _ in range(3):
            await rig.call()
        assert rig.upstream.calls == 3
        s = rig.stats()
        assert (s.hits, s.misses, s.enforced) == (2, 1, False)
        rig.upstream.status = Status(Code.UNAVAILABLE, "down")
        rig.clock.now += 20.0
        _, _, status = await rig.call()
        assert status.code is Code.UNAVAILABLE and rig.stats().stale_if_error == 1

    run(go)


def test_policy_change_drops_only_the_changed_methods() -> None:
    async def go() -> None:
        other = rule(name="list", path="/demo.Catalog/List")
        rig = Rig(rule(), other)
        await rig.call()
        await rig.call(method="/demo.Catalog/List")
        assert rig.state.update_rules((rule(), other)) == 0
        assert rig.state.update_rules((rule(ttl=99.0), other)) == 1
        assert rig.state.snapshot().method(METHOD).entries == 0  # type: ignore[union-attr]
        assert rig.state.snapshot().method("/demo.Catalog/List").entries == 1  # type: ignore[union-attr]
        await rig.call()  # the old layer's rule is no longer in force: not stored again
        assert rig.state.snapshot().method(METHOD).entries == 0  # type: ignore[union-attr]

    run(go)


def test_bounds_limit_the_cache() -> None:
    async def go() -> None:
        rig = Rig(bounds=CacheBounds(max_entries=3, max_bytes=1 << 20, max_entry_bytes=1 << 20))
        for i in range(10):
            await rig.call(b"r%d" % i)
        s = rig.stats()
        assert s.entries == 3 and s.evictions == 7

    run(go)
