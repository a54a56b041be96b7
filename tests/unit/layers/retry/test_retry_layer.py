"""The retry layer against in-process upstream services: replay, commit rules, budget, deadlines."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable

from sidecar.core.call import CallDescriptor, Code, Metadata, Status
from sidecar.core.service import BufferedResponse, Request, Response
from sidecar.layers.retry import layer as retry
from sidecar.layers.retry.budget import Budget
from sidecar.policy.route_model import RetryBudget, RetryPolicy
from sidecar.telemetry.registry import RouteDecisions

OK = Status(Code.OK)
DOWN = Status(Code.UNAVAILABLE, "down")
POLICY = RetryPolicy(max_attempts=3, idempotent_methods=("*",), backoff_base=0.01, backoff_max=0.1)


class Upstream:
    """Answers attempt n with script[n]: (headers, messages, status); records what each attempt sent."""

    def __init__(self, script: list[tuple[Metadata, list[bytes], Status]], read: int | None = None) -> None:
        self.script = script
        self.read = read  # messages to read before answering (None: all)
        self.requests: list[Request] = []
        self.received: list[list[bytes]] = []

    async def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        got: list[bytes] = []
        async for message in request.messages:
            got.append(message)
            if self.read is not None and len(got) >= self.read:
                break
        self.received.append(got)
        headers, messages, status = self.script[min(len(self.requests) - 1, len(self.script) - 1)]
        return BufferedResponse(status, messages, headers)


async def _messages(items: list[bytes]) -> AsyncIterator[bytes]:
    for item in items:
        yield item


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _retrier(policy: RetryPolicy = POLICY, clock: Clock | None = None) -> retry.Retrier:
    clock = clock or Clock()
    return retry.Retrier(policy, Budget(policy.budget), RouteDecisions("l", "r"), random.Random(1), clock, clock.sleep)


async def _call(
    retrier: retry.Retrier,
    upstream: Callable[[Request], object],
    messages: list[bytes],
    method: str = "/p.S/M",
    deadline: float | None = None,
) -> tuple[Metadata, list[bytes], Status, Request]:
    svc = retry.Retry(retrier)(upstream)  # type: ignore[arg-type]
    request = Request(CallDescriptor(method=method, deadline=deadline), _messages(messages))
    response = await svc(request)
    headers = await response.initial_metadata()
    out = []
    while (m := await response.read()) is not None:
        out.append(m)
    status = await response.status()
    request.finish(status)
    return headers, out, status, request


def test_unary_failure_is_retried_with_the_first_message_replayed() -> None:
    upstream = Upstream([((), [], DOWN), ((("h", "1"),), [b"answer"], OK)])
    clock = Clock()
    retrier = _retrier(clock=clock)
    headers, out, status, _ = asyncio.run(_call(retrier, upstream, [b"question"]))
    assert status == OK and out == [b"answer"] and headers == (("h", "1"),)
    assert upstream.received == [[b"question"], [b"question"]]
    assert [r.attempt for r in upstream.requests] == [0, 1]
    assert all(r.finished for r in upstream.requests)  # the layer finished every attempt it created
    assert retrier.counters.retries == 1 and retrier.counters.retries_succeeded == 1
    assert len(clock.slept) == 1 and 0 <= clock.slept[0] <= 0.01


def test_attempts_stop_at_max_attempts_with_growing_backoff_ceilings() -> None:
    upstream = Upstream([((), [], DOWN)])
    clock = Clock()
    retrier = _retrier(RetryPolicy(max_attempts=4, idempotent_methods=("*",), backoff_base=0.01), clock)
    _, _, status, _ = asyncio.run(_call(retrier, upstream, [b"q"]))
    assert status == DOWN and len(upstream.requests) == 4
    assert [s <= 0.01 * 2**i for i, s in enumerate(clock.slept)] == [True, True, True]
    assert retrier.counters.retries == 3 and retrier.counters.retries_succeeded == 0


def test_response_headers_commit_the_call() -> None:
    upstream = Upstream([((("h", "1"),), [], DOWN), ((), [], OK)])
    retrier = _retrier()
    headers, _, status, _ = asyncio.run(_call(retrier, upstream, [b"q"]))
    assert status == DOWN and headers == (("h", "1"),) and len(upstream.requests) == 1


def test_a_response_message_commits_the_call() -> None:
    upstream = Upstream([((), [b"partial"], DOWN), ((), [], OK)])
    _, out, status, _ = asyncio.run(_call(_retrier(), upstream, [b"q"]))
    assert out == [b"partial"] and status == DOWN and len(upstream.requests) == 1


def test_a_second_request_message_commits_the_call() -> None:
    upstream = Upstream([((), [], DOWN), ((), [], OK)])
    retrier = _retrier()
    _, _, status, _ = asyncio.run(_call(retrier, upstream, [b"one", b"two", b"three"]))
    assert status == DOWN and len(upstream.requests) == 1
    assert upstream.received == [[b"one", b"two", b"three"]]
    assert retrier.counters.not_retried_committed == 1


def test_a_stream_with_only_its_first_message_sent_is_replayed() -> None:
    # The upstream failed after reading one message of a longer stream: the second attempt gets
    # the buffered first message and then the rest live from the caller.
    upstream = Upstream([((), [], DOWN), ((), [b"ok"], OK)], read=1)
    retrier = _retrier()

    async def run() -> list[list[bytes]]:
        svc = retry.Retry(retrier)(upstream)
        request = Request(CallDescriptor(method="/p.S/M"), _messages([b"one", b"two"]))
        response = await svc(request)
        await response.initial_metadata()
        upstream.read = None
        rest = []
        async for m in upstream.requests[-1].messages:  # what the committed attempt still sends
            rest.append(m)
        request.finish(await response.status())
        return [*upstream.received, rest]

    received = asyncio.run(run())
    assert received[0] == [b"one"] and received[1] == [b"one"] and received[2] == [b"two"]


def test_non_idempotent_methods_are_not_retried_unless_the_policy_says_so() -> None:
    policy = RetryPolicy(max_attempts=3, idempotent_methods=("Get*",))
    retrier = _retrier(policy)
    upstream = Upstream([((), [], DOWN), ((), [], OK)])
    _, _, status, _ = asyncio.run(_call(retrier, upstream, [b"q"], method="/p.S/Delete"))
    assert status == DOWN and retrier.counters.not_retried_non_idempotent == 1
    upstream = Upstream([((), [], DOWN), ((), [], OK)])
    _, _, status, _ = asyncio.run(_call(retrier, upstream, [b"q"], method="/p.S/GetThing"))
    assert status == OK
    loose = _retrier(RetryPolicy(max_attempts=3, retry_non_idempotent=True))
    upstream = Upstream([((), [], DOWN), ((), [], OK)])
    assert asyncio.run(_call(loose, upstream, [b"q"], method="/p.S/Delete"))[2] == OK


def test_statuses_not_listed_are_not_retried() -> None:
    upstream = Upstream([((), [], Status(Code.INVALID_ARGUMENT)), ((), [], OK)])
    _, _, status, _ = asyncio.run(_call(_retrier(), upstream, [b"q"]))
    assert status.code is Code.INVALID_ARGUMENT and len(upstream.requests) == 1


def test_budget_exhaustion_stops_retries_and_shadow_mode_only_counts() -> None:
    budget = RetryBudget(ratio=0.0, min_per_second=0.1, ttl=10.0)  # one retry in the window
    retrier = _retrier(RetryPolicy(max_attempts=3, idempotent_methods=("*",), budget=budget))
    upstream = Upstream([((), [], DOWN)])
    for _ in range(3):
        asyncio.run(_call(retrier, upstream, [b"q"]))
    assert retrier.counters.retries == 1 and retrier.counters.budget_exhausted == 3
    assert len(upstream.requests) == 4

    shadow = dataclasses_replace(budget, enforced=False)
    retrier = _retrier(RetryPolicy(max_attempts=3, idempotent_methods=("*",), budget=shadow))
    upstream = Upstream([((), [], DOWN)])
    for _ in range(3):
        asyncio.run(_call(retrier, upstream, [b"q"]))
    assert retrier.counters.retries == 6 and retrier.counters.budget_would_exhaust == 5
    assert retrier.counters.budget_exhausted == 0


def dataclasses_replace(budget: RetryBudget, **kw: object) -> RetryBudget:
    import dataclasses

    return dataclasses.replace(budget, **kw)  # type: ignore[arg-type]


def test_per_try_timeout_sets_the_attempt_deadline_and_is_retried() -> None:
    policy = RetryPolicy(max_attempts=2, idempotent_methods=("*",), per_try_timeout=0.2)
    clock = Clock()
    retrier = _retrier(policy, clock)
    upstream = Upstream([((), [], Status(Code.DEADLINE_EXCEEDED)), ((), [], OK)])

    async def timing_out(request: Request) -> Response:
        clock.now += 0.2  # the attempt runs out its 200 ms
        return await upstream(request)

    _, _, status, _ = asyncio.run(_call(retrier, timing_out, [b"q"], deadline=105.0))
    assert status == OK
    first, second = upstream.requests
    assert first.call.deadline == 100.2  # min(caller 105, now + 0.2)
    assert second.call.deadline is not None and second.call.deadline > 100.4
    assert retrier.counters.per_try_timeouts == 1


def test_an_upstreams_own_deadline_exceeded_is_not_a_per_try_timeout() -> None:
    policy = RetryPolicy(max_attempts=2, idempotent_methods=("*",), per_try_timeout=0.2)
    retrier = _retrier(policy)
    upstream = Upstream([((), [], Status(Code.DEADLINE_EXCEEDED, "my own backend timed out")), ((), [], OK)])
    _, _, status, _ = asyncio.run(_call(retrier, upstream, [b"q"], deadline=105.0))
    assert status.code is Code.DEADLINE_EXCEEDED and len(upstream.requests) == 1
    assert retrier.counters.per_try_timeouts == 0


def test_no_retry_when_the_backoff_would_outlive_the_deadline() -> None:
    policy = RetryPolicy(max_attempts=3, idempotent_methods=("*",), backoff_base=1.0, backoff_max=1.0)
    retrier = _retrier(policy)
    upstream = Upstream([((), [], DOWN), ((), [], OK)])
    _, _, status, _ = asyncio.run(_call(retrier, upstream, [b"q"], deadline=100.001))
    assert status == DOWN and len(upstream.requests) == 1


def test_the_first_attempt_starts_before_any_request_message_arrives() -> None:
    """Server-first streams: the layer never waits for the caller's first message."""
    gate = asyncio.Event()

    async def quiet() -> AsyncIterator[bytes]:
        await gate.wait()
        yield b"late"

    async def upstream(request: Request) -> Response:
        return BufferedResponse(OK, [b"hello first"], (("h", "1"),))

    async def run() -> list[bytes | None]:
        svc = retry.Retry(_retrier())(upstream)
        request = Request(CallDescriptor(method="/p.S/M"), quiet())
        response = await svc(request)
        got = [await response.read(), await response.read()]
        request.finish(await response.status())
        gate.set()
        return got

    assert asyncio.run(asyncio.wait_for(run(), 5)) == [b"hello first", None]


def test_a_cancelled_attempt_does_not_break_the_callers_stream() -> None:
    """An attempt cancelled while pulling the caller's next message leaves the pull to the next attempt."""
    arrive = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield b"first"
        await arrive.wait()
        yield b"second"

    calls = 0

    async def upstream(request: Request) -> Response:
        nonlocal calls
        calls += 1
        stream = request.messages
        first = await anext(stream)
        assert first == b"first"
        if calls == 1:
            pull = asyncio.ensure_future(anext(stream))
            await asyncio.sleep(0)
            pull.cancel()  # the transport cancels a failed attempt's sender mid-pull
            return BufferedResponse(DOWN)
        arrive.set()
        second = await anext(stream)
        return BufferedResponse(OK, [first + second], (("h", "1"),))

    async def run() -> list[bytes]:
        svc = retry.Retry(_retrier())(upstream)
        request = Request(CallDescriptor(method="/p.S/M"), slow())
        response = await svc(request)
        await response.initial_metadata()
        out = [m async for m in _drain(response)]
        request.finish(await response.status())
        return out

    assert asyncio.run(asyncio.wait_for(run(), 5)) == [b"firstsecond"]


async def _drain(response: Response) -> AsyncIterator[bytes]:
    while (m := await response.read()) is not None:
        yield m


def test_a_broken_request_stream_fails_the_attempt_not_the_sidecar() -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"first"
        raise ConnectionError("caller vanished")

    async def upstream(request: Request) -> Response:
        try:
            async for _ in request.messages:
                pass
        except ConnectionError:
            return BufferedResponse(Status(Code.CANCELLED, "request stream broke"))
        return BufferedResponse(OK)

    async def run() -> Status:
        svc = retry.Retry(_retrier())(upstream)
        request = Request(CallDescriptor(method="/p.S/M"), broken())
        response = await svc(request)
        await response.initial_metadata()
        status = await response.status()
        request.finish(status)
        return status

    assert asyncio.run(run()).code is Code.CANCELLED
