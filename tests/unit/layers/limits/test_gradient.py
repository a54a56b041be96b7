"""Adaptive concurrency controller on a fake clock, including Envoy's known failure modes."""

from __future__ import annotations

import asyncio

import pytest

from sidecar.core.call import CallDescriptor, Code, Status
from sidecar.core.service import BufferedResponse, Request, Response, no_messages
from sidecar.layers.limits.adaptive import AdaptiveLayer
from sidecar.layers.limits.gradient import GradientLimit
from sidecar.policy.cluster_model import AdaptiveConcurrencyPolicy

BASE, CAPACITY = 0.010, 20  # the upstream: 10 ms up to 20 calls at once, then queueing


def rtt(concurrency: int, base: float = BASE) -> float:
    return base * max(1.0, concurrency / CAPACITY)


def drive(ctl: GradientLimit, now: float, seconds: float, offered: int, base: float = BASE) -> tuple[float, list[int]]:
    """A closed loop of `offered` callers: each round all try, the admitted finish together after
    rtt(admitted). Returns the time reached and the admitted count of each round."""
    end, admitted_per_round = now + seconds, []
    while now < end:
        admitted = sum(ctl.acquire(now) for _ in range(offered))
        now += rtt(ctl.in_flight, base)
        for _ in range(admitted):
            ctl.release(rtt(admitted, base), True, now)
        admitted_per_round.append(admitted)
    return now, admitted_per_round


def policy(**kw: object) -> AdaptiveConcurrencyPolicy:
    defaults: dict[str, object] = {"min_limit": 2, "max_limit": 500, "initial_limit": 10, "sample_window": 0.1}
    return AdaptiveConcurrencyPolicy(**{**defaults, **kw})  # type: ignore[arg-type]


def test_limit_converges_near_capacity_and_rejects_the_excess() -> None:
    ctl = GradientLimit(policy(), 0.0)
    _, rounds = drive(ctl, 0.0, 60.0, offered=100)
    assert CAPACITY <= ctl.current <= 3 * CAPACITY
    assert ctl.counters["rejected"] > 0 and all(a <= 3 * CAPACITY for a in rounds[-100:])
    assert ctl.in_flight == 0


def test_no_remeasure_phase_drops_the_limit_to_its_floor_envoy_8337_18152() -> None:
    """Envoy pins concurrency to min_concurrency every min_rtt_calc_interval to re-measure the
    minimum RTT, shedding everything above it (503 bursts). Here the baseline is kept from the
    traffic itself: over 10 minutes of steady load the limit never falls towards min_limit."""
    ctl = GradientLimit(policy(min_limit=2, baseline_window=5.0), 0.0)
    now, _ = drive(ctl, 0.0, 30.0, offered=100)
    lowest = ctl.current
    for _ in range(600):
        now, rounds = drive(ctl, now, 1.0, offered=100)
        lowest = min(lowest, ctl.current, *rounds)
    assert lowest >= CAPACITY // 2, lowest


def test_baseline_does_not_ratchet_up_under_sustained_load_envoy_11579() -> None:
    """Calls pressing the limit for many baseline windows with queueing latency leave the
    baseline where the unloaded service put it, so the limit keeps shedding the excess."""
    ctl = GradientLimit(policy(baseline_window=2.0), 0.0)
    now, _ = drive(ctl, 0.0, 2.0, offered=5)  # light load: the baseline learns 10 ms
    assert abs(ctl.baseline - BASE) < 1e-9
    now, _ = drive(ctl, now, 200.0, offered=200)  # 100 baseline windows of overload
    assert ctl.baseline <= BASE * 1.01, ctl.baseline
    assert ctl.counters["baseline_held"] > 0
    assert ctl.current <= 3 * CAPACITY


def test_baseline_follows_a_slower_service_and_comes_back_down_at_once() -> None:
    ctl = GradientLimit(policy(baseline_window=2.0), 0.0)
    now, _ = drive(ctl, 0.0, 2.0, offered=3)
    now, _ = drive(ctl, now, 20.0, offered=3, base=0.040)  # a slower release, light load
    assert ctl.baseline > 0.035
    now, _ = drive(ctl, now, 0.3, offered=3)  # fast again: one window brings it back down
    assert abs(ctl.baseline - BASE) < 1e-9


def test_a_slower_service_under_full_load_is_relearned_on_evidence() -> None:
    """A service 3x slower at every concurrency while calls press the limit: halving the limit
    does not bring the RTT down, so the RTT is the service's own and becomes the baseline; the
    limit climbs back instead of staying small. Faster again, the limit stays bounded."""
    ctl = GradientLimit(policy(baseline_window=2.0, min_limit=1), 0.0)
    now, _ = drive(ctl, 0.0, 10.0, offered=100)
    now, _ = drive(ctl, now, 20.0, offered=100, base=0.030)
    assert ctl.counters["baseline_relearned"] >= 1
    assert ctl.baseline > 0.025 and ctl.current >= CAPACITY
    now, _ = drive(ctl, now, 200.0, offered=200)  # fast again, still overloaded
    assert BASE <= ctl.baseline < 0.030 and ctl.current <= 4 * CAPACITY


def test_empty_windows_change_nothing_envoy_14997() -> None:
    ctl = GradientLimit(policy(), 0.0)
    now, _ = drive(ctl, 0.0, 5.0, offered=100)
    now += 1.0
    assert ctl.acquire(now)  # closes the window holding the last samples
    ctl.release(0.0, False, now)
    limit, baseline = ctl.limit, ctl.baseline
    for step in range(1, 50):  # windows end with no calls (acquire/release roll them)
        assert ctl.acquire(now + step * 0.25)
        ctl.release(0.0, False, now + step * 0.25 + 0.001)  # failed calls are not samples
    assert (ctl.limit, ctl.baseline) == (limit, baseline)
    assert ctl.counters["empty_windows"] >= 40


def test_zero_latency_samples_do_not_divide_by_zero() -> None:
    ctl = GradientLimit(policy(), 0.0)
    for i in range(200):
        t = i * 0.01
        for _ in range(8):
            assert ctl.acquire(t)
        for _ in range(8):
            ctl.release(0.0, True, t)
    assert ctl.baseline > 0 and ctl.policy.min_limit <= ctl.current <= ctl.policy.max_limit


def test_shadow_mode_admits_everything_and_counts_would_be_rejections() -> None:
    ctl = GradientLimit(policy(enforced=False, initial_limit=3), 0.0)
    assert all(ctl.acquire(0.0) for _ in range(5))
    assert ctl.in_flight == 5 and ctl.counters["shadow_would_reject"] == 2 and not ctl.counters["rejected"]


def test_shadow_mode_under_overload_does_not_take_queueing_for_a_slower_service() -> None:
    """In shadow the limit does not change the concurrency, so a falling limit with an unchanged
    RTT is no evidence: the evidence test watches peak in-flight, not the limit."""
    ctl = GradientLimit(policy(enforced=False, baseline_window=2.0), 0.0)
    now, _ = drive(ctl, 0.0, 2.0, offered=5)
    drive(ctl, now, 60.0, offered=100)  # 5x queueing latency, never shed
    assert abs(ctl.baseline - BASE) < 1e-9 and not ctl.counters["baseline_relearned"]
    assert ctl.counters["shadow_would_reject"] > 0 and ctl.current < CAPACITY


def test_configure_keeps_the_learned_limit_within_new_bounds() -> None:
    ctl = GradientLimit(policy(), 0.0)
    drive(ctl, 0.0, 30.0, offered=100)
    learned = ctl.current
    ctl.configure(policy(max_limit=CAPACITY // 2))
    assert ctl.current == CAPACITY // 2 < learned


def _request() -> Request:
    return Request(CallDescriptor("/s/M"), no_messages())


@pytest.mark.parametrize("code", [Code.RESOURCE_EXHAUSTED, Code.UNAVAILABLE])
def test_layer_rejects_with_the_configured_code_envoy_23696(code: Code) -> None:
    ctl = GradientLimit(policy(initial_limit=2, min_limit=1, reject_code=code), 0.0)

    async def main() -> list[Code]:
        gate = asyncio.Event()

        async def slow(request: Request) -> Response:
            await gate.wait()
            return BufferedResponse(Status(Code.OK))

        service = AdaptiveLayer("c", ctl, lambda: 0.0)(slow)
        requests = [_request() for _ in range(3)]
        tasks = [asyncio.ensure_future(service(r)) for r in requests]
        await asyncio.sleep(0)
        gate.set()
        codes = []
        for r, resp in zip(requests, await asyncio.gather(*tasks), strict=True):
            status = await resp.status()
            r.finish(status)
            codes.append(status.code)
        return codes

    codes = asyncio.run(main())
    assert codes.count(code) == 1 and codes.count(Code.OK) == 2
    assert ctl.in_flight == 0 and ctl.counters["rejected"] == 1
