"""Retry budget arithmetic with a fake clock: ratio of requests plus a minimum rate, over a ttl window."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.layers.retry.budget import Budget
from sidecar.policy.route_model import RetryBudget


def test_min_rate_alone_allows_min_per_second_times_ttl() -> None:
    budget = Budget(RetryBudget(ratio=0.2, min_per_second=1.0, ttl=10.0))
    granted = sum(budget.withdraw(0.0) for _ in range(50))
    assert granted == 10  # 1/s * 10 s, no requests yet


def test_ratio_of_requests_adds_to_the_reserve() -> None:
    budget = Budget(RetryBudget(ratio=0.2, min_per_second=0.0, ttl=10.0))
    for _ in range(100):
        budget.deposit(1.0)
    assert budget.balance(1.0) == 20.0
    granted = sum(budget.withdraw(1.5) for _ in range(100))
    assert granted == 20
    assert budget.balance(1.5) == 0.0
    budget.deposit(2.0)
    budget.deposit(2.0)
    budget.deposit(2.0)
    budget.deposit(2.0)
    budget.deposit(2.0)  # 105 requests * 0.2 = 21 allowed, 20 spent
    assert budget.withdraw(2.0)
    assert not budget.withdraw(2.0)


def test_old_requests_and_retries_leave_the_window_after_ttl() -> None:
    budget = Budget(RetryBudget(ratio=0.5, min_per_second=0.0, ttl=10.0))
    for _ in range(10):
        budget.deposit(0.0)
    assert sum(budget.withdraw(0.0) for _ in range(10)) == 5
    assert budget.balance(9.9) == 0.0  # still inside the window
    assert budget.balance(11.0) == 0.0  # both requests and retries expired together
    assert not budget.withdraw(11.0)
    budget.deposit(11.0)
    budget.deposit(11.0)
    assert budget.withdraw(11.0)


def test_forced_retries_are_recorded_in_shadow_mode() -> None:
    budget = Budget(RetryBudget(ratio=0.0, min_per_second=0.1, ttl=10.0, enforced=False))
    assert budget.withdraw(0.0)
    assert not budget.withdraw(0.0)
    budget.force(0.0)
    assert budget.balance(0.0) == -1.0


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    ratio=st.floats(0.0, 1.0),
    min_rate=st.floats(0.0, 5.0),
    events=st.lists(st.tuples(st.floats(0.0, 0.5), st.booleans()), max_size=300),
)
def test_retries_in_any_window_never_exceed_the_budget(
    ratio: float, min_rate: float, events: list[tuple[float, bool]]
) -> None:
    """Property: over every ttl window, granted retries <= ratio * requests + min_rate * ttl (+ slot slack)."""
    ttl = 5.0
    budget = Budget(RetryBudget(ratio=ratio, min_per_second=min_rate, ttl=ttl))
    now = 0.0
    log: list[tuple[float, str]] = []
    for gap, is_retry in events:
        now += gap
        if is_retry:
            if budget.withdraw(now):
                log.append((now, "retry"))
        else:
            budget.deposit(now)
            log.append((now, "request"))
    width = ttl / 10
    for t, kind in log:
        if kind != "retry":
            continue
        # Every retry granted at t: the retries of the last ttl (it included) fit the budget of the
        # requests seen since t - ttl (plus one slot, the window's granularity).
        retries = sum(1 for u, k in log if k == "retry" and t - ttl <= u <= t)
        requests = sum(1 for u, k in log if k == "request" and t - ttl - width < u <= t)
        assert retries <= ratio * requests + min_rate * ttl + 1e-9
