"""The async driver of Caps: admit, queue (FIFO, bounded wait) or fail fast, releasing on finish."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Callable

from sidecar.core.call import Status
from sidecar.core.service import BufferedResponse, Request, Response, Service, local_error
from sidecar.layers.limits.caps import UNLIMITED, Caps, Decision
from sidecar.policy.cluster_model import ConcurrencyLimits

_WHAT = {
    Decision.REJECT_MAX_REQUESTS: "max_requests",
    Decision.REJECT_MAX_PENDING: "max_pending",
    Decision.REJECT_MAX_RETRIES: "max_retries",
}


class Admission:
    """Holds one cluster's Caps and its queue of waiting calls."""

    def __init__(self, cluster: str, limits: ConcurrencyLimits = UNLIMITED) -> None:
        self.cluster = cluster
        self.caps = Caps(limits)
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def configure(self, limits: ConcurrencyLimits) -> None:
        """New limits apply at once; counts carry over; waiters that now fit go."""
        self.caps.limits = limits
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.caps.can_promote():
            waiter = self._waiters.popleft()
            if waiter.done():  # gave up; its accounting is already undone
                continue
            self.caps.promote()
            waiter.set_result(None)

    def _released(self, retry: bool) -> Callable[[Status], None]:
        def release(_: Status) -> None:
            self.caps.release(retry)
            self._wake()

        return release

    async def enter(self, request: Request, clock: Callable[[], float] = time.monotonic) -> BufferedResponse | None:
        """None when `request` holds a slot (released when it finishes), else the rejection."""
        retry = request.attempt > 0
        decision = self.caps.decide(retry)
        if decision is Decision.QUEUE:
            decision = await self._wait(request, retry, clock)
        if decision is Decision.ADMIT:
            request.on_finish(self._released(retry))
            return None
        return self._reject(decision)

    async def _wait(self, request: Request, retry: bool, clock: Callable[[], float]) -> Decision:
        wait = self.caps.limits.pending_timeout
        remaining = request.call.remaining(clock())
        if remaining is not None:
            wait = max(min(wait, remaining), 0.0)
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(wait):
                await waiter
        except TimeoutError:
            if waiter.done() and not waiter.cancelled():
                return Decision.ADMIT  # the slot arrived as the wait ran out: use it
            self._forget(waiter)
            self.caps.abandon(retry, "pending_timeouts")
            return Decision.REJECT_MAX_PENDING
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.caps.release(retry)  # handed a slot, then cancelled: give it back
                self._wake()
            else:
                self._forget(waiter)
                self.caps.abandon(retry, "pending_cancelled")
            raise
        return Decision.ADMIT

    def _forget(self, waiter: asyncio.Future[None]) -> None:
        waiter.cancel()
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)

    def _reject(self, decision: Decision) -> BufferedResponse:
        lim, caps = self.caps.limits, self.caps
        what = _WHAT[decision]
        if decision is Decision.REJECT_MAX_RETRIES:
            detail = f"{caps.retries} retries in flight, max_retries {lim.max_retries}"
        elif decision is Decision.REJECT_MAX_PENDING and lim.max_pending:
            detail = (
                f"{caps.in_flight} in flight (max_requests {lim.max_requests}) and the queue of "
                f"{lim.max_pending} is full or the wait of {lim.pending_timeout}s ran out"
            )
        else:
            detail = f"{caps.in_flight} in flight, max_requests {lim.max_requests}"
        return local_error(lim.reject_code, f"apex: cluster {self.cluster!r} over its {what} cap ({detail})")


class AdmissionLayer:
    """The cluster's caps: admit, queue or refuse each call before the balancer picks an endpoint."""

    name = "admission"

    def __init__(self, admission: Admission, clock: Callable[[], float] = time.monotonic) -> None:
        self.admission = admission
        self.clock = clock

    def __call__(self, inner: Service) -> Service:
        enter, clock = self.admission.enter, self.clock

        async def admit(request: Request) -> Response:
            rejected = await enter(request, clock)
            if rejected is not None:
                return rejected
            return await inner(request)

        return admit
