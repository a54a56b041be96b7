"""A retry budget (Finagle/Linkerd): retries in the last `ttl` ≤ ratio * requests + min rate * ttl.

Sans-IO: every method takes `now`. Requests and retries are counted in `SLOTS` time buckets
covering the window, so old traffic stops counting after `ttl` without storing each call.
"""

from __future__ import annotations

from collections import deque

from sidecar.policy.route_model import RetryBudget

SLOTS = 10


class Budget:
    __slots__ = ("_buckets", "_requests", "_retries", "_width", "policy")

    def __init__(self, policy: RetryBudget) -> None:
        self.policy = policy
        self._width = policy.ttl / SLOTS
        self._buckets: deque[list[float]] = deque()  # [start, requests, retries], oldest first
        self._requests = 0.0  # sums over the buckets in the window
        self._retries = 0.0

    def _bucket(self, now: float) -> list[float]:
        # 1. Drop buckets that ended more than ttl ago (their counts leave the sums).
        horizon = now - self.policy.ttl
        buckets = self._buckets
        while buckets and buckets[0][0] + self._width <= horizon:
            _, requests, retries = buckets.popleft()
            self._requests -= requests
            self._retries -= retries
        # 2. Open a new bucket when `now` is past the newest one.
        if not buckets or now >= buckets[-1][0] + self._width:
            start = now - (now % self._width)
            buckets.append([start, 0.0, 0.0])
        return buckets[-1]

    def allowed(self, now: float) -> float:
        """Retries the window allows in all (spent or not)."""
        self._bucket(now)
        return self.policy.ratio * self._requests + self.policy.min_per_second * self.policy.ttl

    def balance(self, now: float) -> float:
        """Retries still allowed now."""
        return self.allowed(now) - self._retries

    def deposit(self, now: float) -> None:
        """Record one request (first attempt)."""
        self._bucket(now)[1] += 1
        self._requests += 1

    def withdraw(self, now: float) -> bool:
        """Record one retry if the budget allows it; False (nothing recorded) when exhausted."""
        if self.balance(now) < 1.0:
            return False
        self._bucket(now)[2] += 1
        self._retries += 1
        return True

    def force(self, now: float) -> None:
        """Record a retry made over budget (shadow mode: observed, not enforced)."""
        self._bucket(now)[2] += 1
        self._retries += 1
