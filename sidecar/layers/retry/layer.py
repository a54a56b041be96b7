"""The retry layer: run attempts until one commits or succeeds, within the policy and the budget.

Each attempt is a new Request(call with the attempt's deadline, replayed messages, attempt=n)
that this layer creates and finishes. An attempt *commits* the call when the upstream sends
response headers or a message (then its answer is relayed as is) or when the caller's request
went beyond its first message; only a trailers-only failure of an uncommitted attempt is retried.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import Awaitable, Callable

from apex.mesh.contract.backoff import full_jitter

from sidecar.core.call import Code, Metadata, Status
from sidecar.core.service import Request, Response, Service
from sidecar.layers.retry.budget import Budget
from sidecar.layers.retry.decide import Verdict, idempotent, verdict
from sidecar.layers.retry.replay import Replay
from sidecar.policy.route_model import RetryPolicy
from sidecar.telemetry.registry import RouteDecisions

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

# Methods whose idempotency is remembered per route (bounded: method names come from callers).
MAX_METHODS = 1024

# Clock difference tolerated between our per-try deadline and grpc's timer firing it.
PER_TRY_SLACK = 0.01

_NOT_RETRIED = {
    Verdict.COMMITTED: "not_retried_committed",
    Verdict.NON_IDEMPOTENT: "not_retried_non_idempotent",
}


@dataclasses.dataclass(slots=True)
class Retrier:
    """What one route's retry layer shares between its calls."""

    policy: RetryPolicy
    budget: Budget
    counters: RouteDecisions
    rng: random.Random
    clock: Clock = time.monotonic
    sleep: Sleep = asyncio.sleep


class RetryingResponse:
    """The caller's response: settles on the committed (or last) attempt, then relays it."""

    __slots__ = (
        "_cancelled",
        "_current",
        "_first",
        "_headers",
        "_inner",
        "_original",
        "_replay",
        "_retrier",
        "_settled",
        "_status",
        "attempts",
    )

    def __init__(self, retrier: Retrier, inner: Service, original: Request) -> None:
        self._retrier = retrier
        self._inner = inner
        self._original = original
        self._replay = Replay(original.messages)
        self._current: Response | None = None
        self._headers: Metadata = ()
        self._first: bytes | None = None  # a message read while deciding, relayed first
        self._status: Status | None = None  # known when the last attempt ended trailers-only
        self._settled = False
        self._cancelled = False
        self.attempts = 0
        original.on_finish(self._finished)

    def _finished(self, status: Status) -> None:
        self._replay.close()
        if status.ok and self.attempts > 1:
            self._retrier.counters.retries_succeeded += 1

    async def _settle(self) -> None:
        if not self._settled:
            self._settled = True  # run once; the transport reads headers, messages, status in order
            await self._run()

    async def _run(self) -> None:
        r = self._retrier
        call = self._original.call
        method_idempotent = True  # the layer sends only retryable methods here
        while True:
            # 1. Start the attempt with its own deadline (per-try timeout within the call's).
            attempt_no = self.attempts
            self.attempts += 1
            deadline = call.deadline
            per_try = r.policy.per_try_timeout
            if per_try is not None:
                mine = r.clock() + per_try
                deadline = mine if deadline is None or mine < deadline else deadline
            if self._original.finished:  # the caller went away during the backoff
                self._status = Status(Code.CANCELLED, "apex: call ended before its retry")
                return
            attempt_call = call if deadline == call.deadline else dataclasses.replace(call, deadline=deadline)
            attempt = Request(attempt_call, self._replay.messages(), attempt=attempt_no)
            self._original.on_finish(attempt.finish)  # the committed attempt ends with the call
            response = await self._inner(attempt)
            self._current = response
            # 2. Headers or a message commit the call: relay this attempt from here on.
            headers = await response.initial_metadata()
            if headers:
                self._headers = headers
                return
            first = await response.read()
            if first is not None:
                self._first = first
                return
            # 3. A trailers-only answer: done, or retry it?
            status = await response.status()
            now = r.clock()
            # The attempt's own deadline passed (not an upstream's DEADLINE_EXCEEDED of its own
            # making) while the call still has time: a per-try timeout.
            timed_out = (
                status.code is Code.DEADLINE_EXCEEDED
                and deadline is not None
                and deadline != call.deadline
                and now >= deadline - PER_TRY_SLACK
                and (call.deadline is None or now < call.deadline)
            )
            if timed_out:
                r.counters.per_try_timeouts += 1
            # Retry number attempt_no + 1 waits uniform(0, min(backoff_max, backoff_base * 2^attempt_no)).
            pause = full_jitter(attempt_no, r.policy.backoff_base, r.policy.backoff_max, r.rng)
            decision = verdict(
                r.policy,
                status,
                attempt=attempt_no,
                per_try_timed_out=timed_out,
                committed=self._replay.committed,
                method_idempotent=method_idempotent,
                time_left=call.remaining(now),
                pause=pause,
            )
            if decision is Verdict.RETRY and not r.budget.withdraw(now):
                if r.policy.budget.enforced:
                    r.counters.budget_exhausted += 1
                    decision = Verdict.DONE
                else:
                    r.counters.budget_would_exhaust += 1
                    r.budget.force(now)
            if decision is not Verdict.RETRY or self._cancelled:
                if decision in _NOT_RETRIED:
                    name = _NOT_RETRIED[decision]
                    setattr(r.counters, name, getattr(r.counters, name) + 1)
                self._status = status
                return
            # 4. Retry: finish this attempt, wait the jittered backoff, go again.
            attempt.finish(status)
            r.counters.retries += 1
            await r.sleep(pause)

    async def initial_metadata(self) -> Metadata:
        await self._settle()
        return self._headers

    async def read(self) -> bytes | None:
        await self._settle()
        if self._first is not None:
            first, self._first = self._first, None
            return first
        if self._status is not None:
            return None
        assert self._current is not None
        return await self._current.read()

    async def status(self) -> Status:
        await self._settle()
        if self._status is not None:
            return self._status
        assert self._current is not None
        return await self._current.status()

    def cancel(self) -> None:
        self._cancelled = True
        if self._current is not None:
            self._current.cancel()


class Retry:
    """Retry the route's calls as `retrier.policy` says, within `retrier.budget`."""

    name = "retry"

    def __init__(self, retrier: Retrier) -> None:
        self.retrier = retrier

    def __call__(self, inner: Service) -> Service:
        retrier = self.retrier
        policy = retrier.policy
        counters = retrier.counters
        known: dict[str, bool] = {}  # method -> may be retried (idempotent globs are matched once)

        def not_retried(status: Status) -> None:
            if status.code in policy.retry_on:
                counters.not_retried_non_idempotent += 1

        async def retry(request: Request) -> Response:
            retrier.budget.deposit(retrier.clock())
            method = request.call.method
            retryable = known.get(method)
            if retryable is None:
                retryable = policy.retry_non_idempotent or idempotent(policy, method)
                if len(known) < MAX_METHODS:
                    known[method] = retryable
            if not retryable:  # never retried: skip the replay machinery, still count
                request.on_finish(not_retried)
                return await inner(request)
            return RetryingResponse(retrier, inner, request)

        return retry
