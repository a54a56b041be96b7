"""Concurrency cap accounting (sans-IO): in-flight, pending and retry counts against the limits.

`decide` is the controller: it says whether a call may go now, must wait in the queue, or is
over a cap. The counts change only through `decide`, `promote`, `abandon` and `release`, so
every slot taken is given back exactly once (the async driver calls `release` from
Request.on_finish, and `abandon` when a queued call gives up).
"""

from __future__ import annotations

import enum
from collections import Counter

from sidecar.policy.cluster_model import ConcurrencyLimits

UNLIMITED = ConcurrencyLimits()


class Decision(enum.Enum):
    ADMIT = "admit"
    QUEUE = "queue"
    REJECT_MAX_REQUESTS = "max_requests"
    REJECT_MAX_PENDING = "max_pending"
    REJECT_MAX_RETRIES = "max_retries"


class Caps:
    __slots__ = ("counters", "in_flight", "limits", "pending", "retries")

    def __init__(self, limits: ConcurrencyLimits = UNLIMITED) -> None:
        self.limits = limits
        self.in_flight = 0  # calls holding a request slot
        self.pending = 0  # calls waiting in the queue for one
        self.retries = 0  # retry attempts queued or in flight
        self.counters: Counter[str] = Counter()

    def _verdict(self, retry: bool) -> Decision:
        lim = self.limits
        if retry and lim.max_retries is not None and self.retries >= lim.max_retries:
            return Decision.REJECT_MAX_RETRIES
        if lim.max_requests is None or (self.in_flight < lim.max_requests and self.pending == 0):
            return Decision.ADMIT
        # In shadow mode nothing waits: the calls beyond max_requests stand for the queue.
        pending = self.pending if lim.enforced else self.in_flight - lim.max_requests
        if pending < lim.max_pending:
            return Decision.QUEUE
        return Decision.REJECT_MAX_PENDING if lim.max_pending else Decision.REJECT_MAX_REQUESTS

    def decide(self, retry: bool) -> Decision:
        """Admit (slot taken), queue (pending taken) or reject one call; shadow mode always admits."""
        verdict = self._verdict(retry)
        if not self.limits.enforced:
            if verdict is Decision.QUEUE:
                self.counters["shadow_would_queue"] += 1
            elif verdict is not Decision.ADMIT:
                self.counters[f"shadow_would_reject_{verdict.value}"] += 1
            verdict = Decision.ADMIT
        if verdict is Decision.ADMIT:
            self.in_flight += 1
            self.counters["admitted"] += 1
        elif verdict is Decision.QUEUE:
            self.pending += 1
            self.counters["queued"] += 1
        else:
            self.counters[f"rejected_{verdict.value}"] += 1
            return verdict
        if retry:
            self.retries += 1
        return verdict

    def can_promote(self) -> bool:
        """A queued call may take a request slot now."""
        cap = self.limits.max_requests
        return self.pending > 0 and (cap is None or self.in_flight < cap or not self.limits.enforced)

    def promote(self) -> None:
        """A queued call leaves the queue holding a request slot."""
        self.pending -= 1
        self.in_flight += 1
        self.counters["admitted"] += 1
        self.counters["dequeued"] += 1

    def abandon(self, retry: bool, reason: str) -> None:
        """A queued call gave up (`reason`: pending_timeout, cancelled) without a slot."""
        self.pending -= 1
        if retry:
            self.retries -= 1
        self.counters[reason] += 1

    def release(self, retry: bool) -> None:
        """A call holding a request slot finished."""
        self.in_flight -= 1
        if retry:
            self.retries -= 1
