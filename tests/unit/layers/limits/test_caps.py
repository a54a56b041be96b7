"""Concurrency cap accounting (pure) and its async driver, including cancellation: nothing leaks."""

from __future__ import annotations

import asyncio
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.core.call import CallDescriptor, Code, Status
from sidecar.core.service import Request, no_messages
from sidecar.layers.limits.admission import Admission
from sidecar.layers.limits.caps import Caps, Decision
from sidecar.policy.cluster_model import ConcurrencyLimits

OK = Status(Code.OK)


def test_caps_admit_until_max_requests_then_reject() -> None:
    caps = Caps(ConcurrencyLimits(max_requests=2))
    assert caps.decide(False) is Decision.ADMIT
    assert caps.decide(False) is Decision.ADMIT
    assert caps.decide(False) is Decision.REJECT_MAX_REQUESTS
    caps.release(False)
    assert caps.decide(False) is Decision.ADMIT
    assert caps.in_flight == 2 and caps.counters["rejected_max_requests"] == 1


def test_caps_queue_up_to_max_pending_then_reject_pending() -> None:
    caps = Caps(ConcurrencyLimits(max_requests=1, max_pending=1))
    assert caps.decide(False) is Decision.ADMIT
    assert caps.decide(False) is Decision.QUEUE
    assert caps.decide(False) is Decision.REJECT_MAX_PENDING
    assert not caps.can_promote()
    caps.release(False)
    assert caps.can_promote()
    caps.promote()
    assert (caps.in_flight, caps.pending) == (1, 0)


def test_caps_retries_need_a_retry_slot_and_a_request_slot() -> None:
    caps = Caps(ConcurrencyLimits(max_requests=3, max_retries=1))
    assert caps.decide(True) is Decision.ADMIT
    assert caps.decide(True) is Decision.REJECT_MAX_RETRIES
    assert caps.decide(False) is Decision.ADMIT
    caps.release(True)
    assert caps.retries == 0 and caps.decide(True) is Decision.ADMIT


def test_caps_shadow_mode_admits_and_counts_would_be_rejections() -> None:
    caps = Caps(ConcurrencyLimits(max_requests=1, max_pending=1, max_retries=0, enforced=False))
    assert [caps.decide(False) for _ in range(3)] == [Decision.ADMIT] * 3
    assert caps.decide(True) is Decision.ADMIT
    assert caps.counters["shadow_would_queue"] == 1  # 2nd call: over max_requests, queue has room
    assert caps.counters["shadow_would_reject_max_pending"] == 1  # 3rd call: the queue would be full
    assert caps.counters["shadow_would_reject_max_retries"] == 1
    assert caps.in_flight == 4 and caps.pending == 0


def request(attempt: int = 0, deadline: float | None = None) -> Request:
    return Request(CallDescriptor("/pkg.S/M", deadline=deadline), no_messages(), attempt)


def test_admission_fails_fast_with_a_clear_message_and_releases_on_finish() -> None:
    async def main() -> None:
        adm = Admission("echo", ConcurrencyLimits(max_requests=1, reject_code=Code.RESOURCE_EXHAUSTED))
        first = request()
        assert await adm.enter(first) is None
        rejected = await adm.enter(request())
        assert rejected is not None
        status = await rejected.status()
        assert status.code is Code.RESOURCE_EXHAUSTED
        assert "cluster 'echo' over its max_requests cap (1 in flight, max_requests 1)" in status.details
        first.finish(OK)
        assert adm.caps.in_flight == 0

    asyncio.run(main())


def test_admission_queue_is_fifo_and_hands_slots_over() -> None:
    async def main() -> None:
        adm = Admission("c", ConcurrencyLimits(max_requests=1, max_pending=2, pending_timeout=30.0))
        holder = request()
        await adm.enter(holder)
        order: list[int] = []

        async def waiter(i: int) -> Request:
            req = request()
            assert await adm.enter(req) is None
            order.append(i)
            return req

        tasks = [asyncio.create_task(waiter(i)) for i in range(2)]
        await asyncio.sleep(0)
        assert adm.caps.pending == 2
        holder.finish(OK)
        first = await tasks[0]
        assert adm.caps.in_flight == 1 and adm.caps.pending == 1
        first.finish(OK)
        (await tasks[1]).finish(OK)
        assert order == [0, 1]
        assert (adm.caps.in_flight, adm.caps.pending) == (0, 0)

    asyncio.run(main())


def test_admission_queue_wait_is_bounded_by_timeout_and_deadline() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        adm = Admission("c", ConcurrencyLimits(max_requests=1, max_pending=5, pending_timeout=0.01))
        await adm.enter(request())
        rejected = await adm.enter(request())
        assert rejected is not None and (await rejected.status()).code is Code.UNAVAILABLE
        past = request(deadline=loop.time() - 1.0)
        assert await adm.enter(past, clock=loop.time) is not None
        assert adm.caps.pending == 0 and adm.caps.counters["pending_timeouts"] == 2

    asyncio.run(main())


def test_cancelled_while_queued_leaves_no_pending_slot() -> None:
    async def main() -> None:
        adm = Admission("c", ConcurrencyLimits(max_requests=1, max_pending=1, pending_timeout=30.0, max_retries=5))
        holder = request()
        await adm.enter(holder)
        task = asyncio.create_task(adm.enter(request(attempt=1)))
        await asyncio.sleep(0)
        assert adm.caps.pending == 1 and adm.caps.retries == 1
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert (adm.caps.pending, adm.caps.retries) == (0, 0)
        holder.finish(OK)
        assert adm.caps.in_flight == 0

    asyncio.run(main())


def test_cancelled_just_after_being_handed_a_slot_gives_it_back() -> None:
    async def main() -> None:
        adm = Admission("c", ConcurrencyLimits(max_requests=1, max_pending=1, pending_timeout=30.0))
        holder = request()
        await adm.enter(holder)
        task = asyncio.create_task(adm.enter(request()))
        await asyncio.sleep(0)
        holder.finish(OK)  # hands the slot to the waiter...
        task.cancel()  # ...which is cancelled before it runs again
        await asyncio.gather(task, return_exceptions=True)
        assert (adm.caps.in_flight, adm.caps.pending) == (0, 0)

    asyncio.run(main())


def test_raising_the_limits_lets_waiters_go() -> None:
    async def main() -> None:
        adm = Admission("c", ConcurrencyLimits(max_requests=1, max_pending=3, pending_timeout=30.0))
        await adm.enter(request())
        tasks = [asyncio.create_task(adm.enter(request())) for _ in range(3)]
        await asyncio.sleep(0)
        adm.configure(ConcurrencyLimits(max_requests=10))
        assert [await t for t in tasks] == [None, None, None]
        assert (adm.caps.in_flight, adm.caps.pending) == (4, 0)

    asyncio.run(main())


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 4),
    st.integers(0, 4),
    st.integers(0, 3),
)
def test_in_flight_pending_and_retries_return_to_zero_whatever_happens(
    seed: int, max_requests: int, max_pending: int, max_retries: int
) -> None:
    """Random calls (some retries) finish, time out in the queue or get cancelled at random points."""
    rng = random.Random(seed)
    limits = ConcurrencyLimits(
        max_requests=max_requests, max_pending=max_pending, max_retries=max_retries, pending_timeout=0.002
    )

    async def call(adm: Admission) -> None:
        req = request(attempt=rng.choice([0, 0, 1]))
        try:
            if await adm.enter(req) is None:
                await asyncio.sleep(rng.choice([0, 0, 0.001]))
        finally:
            req.finish(Status(Code.CANCELLED) if rng.random() < 0.3 else OK)

    async def main() -> Caps:
        adm = Admission("c", limits)
        tasks = [asyncio.create_task(call(adm)) for _ in range(30)]
        for _ in range(rng.randrange(0, 5)):
            await asyncio.sleep(0)
        for task in rng.sample(tasks, 10):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return adm.caps

    caps = asyncio.run(main())
    assert (caps.in_flight, caps.pending, caps.retries) == (0, 0, 0)
    c = caps.counters
    assert c["queued"] == c["dequeued"] + c["pending_timeouts"] + c["pending_cancelled"]
