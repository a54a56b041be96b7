"""Adaptive concurrency limit (sans-IO): a Gradient2-style limit from short-window vs baseline RTT.

Every `sample_window` seconds the RTTs of the calls that finished OK are averaged into the
short RTT, compared with a baseline RTT, and the limit moves (Netflix Gradient2):

    gradient = clamp(tolerance x baseline / short, 0.5, 1)
    limit    = (1 - smoothing) x limit + smoothing x (limit x gradient + sqrt(limit))   # + queue allowance

clamped to [min_limit, max_limit]. Where it differs from Envoy's filter (docs/cluster-resilience.md):

* No minimum-RTT re-measurement phase that pins the limit to a floor (envoy#8337, #18152): the
  baseline is a decaying minimum, kept up to date from the traffic itself.
* The baseline falls at once to any lower short RTT, and rises (time constant `baseline_window`)
  only from windows measured without pressure: peak in-flight at most half the limit, or the
  peak in-flight at the floor (min_limit, or 4: see FLOOR). Windows where calls press the limit
  never raise it, so it cannot ratchet up under sustained load (envoy#11579), and it comes back
  down as soon as latency does. One exception, on evidence: when queueing is first seen the
  peak in-flight and RTT are noted (the highest RTT while the peak stays within 75 % of it); if
  the peak in-flight has since halved and the RTT has not fallen below 90 % of that,
  the latency is the service's own (a slower release, not a queue) and becomes the baseline.
* A window without samples changes nothing; an RTT of 0 is floored (envoy#14997).
* The rejection status is the policy's (envoy#23696), chosen by the layer.
"""

from __future__ import annotations

import math
from collections import Counter

from sidecar.policy.cluster_model import AdaptiveConcurrencyPolicy

MIN_RTT = 1e-6  # seconds: a floor on measured RTTs, so a zero-latency sample cannot divide by zero
# With the gradient at its floor (0.5) the limit settles where L = 0.5 L + sqrt(L), i.e. 4: the
# lowest limit the controller reaches on its own (or min_limit if higher). Near it, the latency
# measured is the service's own at (almost) the least concurrency we allow: the baseline follows it.
FLOOR = 4.0
PROBE_FALL = 0.9  # a queue's RTT falls below 90 % when the concurrency feeding it halves


class GradientLimit:
    """The limit, the calls holding a slot, and the current sample window."""

    __slots__ = (
        "_count",
        "_end",
        "_peak",
        "_probe_peak",
        "_probe_rtt",
        "_sum",
        "_updated",
        "baseline",
        "counters",
        "in_flight",
        "limit",
        "policy",
    )

    def __init__(self, policy: AdaptiveConcurrencyPolicy, now: float) -> None:
        self.policy = policy
        self.limit = float(min(max(policy.initial_limit, policy.min_limit), policy.max_limit))
        self.in_flight = 0
        self.baseline = 0.0  # seconds; 0 until the first window with samples
        self.counters: Counter[str] = Counter()
        self._sum = 0.0
        self._count = 0
        self._peak = 0
        self._end = now + policy.sample_window
        self._updated = now
        # Evidence test (Vegas-like): the peak in-flight and short RTT when queueing was first seen;
        # if the concurrency halves and the RTT does not fall, the RTT is the service's own. Peak
        # in-flight, not the limit: in shadow mode the limit does not change the concurrency.
        self._probe_peak = 0.0
        self._probe_rtt = 0.0

    def configure(self, policy: AdaptiveConcurrencyPolicy) -> None:
        """A new policy keeps the learned limit (clamped to the new bounds) and baseline."""
        self.policy = policy
        self.limit = min(max(self.limit, float(policy.min_limit)), float(policy.max_limit))

    @property
    def current(self) -> int:
        """The limit in force: calls that may hold a slot at once."""
        return int(self.limit)

    def acquire(self, now: float) -> bool:
        """True: the call holds a slot until `release`; False: over the limit (enforced mode only)."""
        if now >= self._end:
            self._roll(now)
        if self.in_flight >= int(self.limit):
            if self.policy.enforced:
                self.counters["rejected"] += 1
                return False
            self.counters["shadow_would_reject"] += 1
        self.in_flight += 1
        if self.in_flight > self._peak:
            self._peak = self.in_flight
        self.counters["admitted"] += 1
        return True

    def release(self, rtt: float, ok: bool, now: float) -> None:
        """A call holding a slot finished after `rtt` seconds; only OK calls are latency samples."""
        self.in_flight -= 1
        if ok:
            self._sum += rtt
            self._count += 1
        if now >= self._end:
            self._roll(now)

    def _roll(self, now: float) -> None:
        """Close the sample window: update the baseline and the limit from it, start the next."""
        p = self.policy
        total, count, peak = self._sum, self._count, self._peak
        self._sum, self._count, self._peak = 0.0, 0, self.in_flight
        self._end = now + p.sample_window  # an idle gap is skipped, not replayed as empty windows
        if count == 0:
            self.counters["empty_windows"] += 1
            return
        short = max(total / count, MIN_RTT)
        dt, self._updated = now - self._updated, now
        floor = max(float(p.min_limit), FLOOR) * 1.25
        self._baseline(short, dt, peak, pressed=peak > self.limit / 2 and peak > floor)
        gradient = min(1.0, max(0.5, p.tolerance * self.baseline / short))
        if gradient >= 1.0 and peak <= self.limit / 2:
            return  # the load did not use the limit: no evidence it could take more
        estimate = self.limit * gradient + math.sqrt(self.limit)
        limit = (1.0 - p.smoothing) * self.limit + p.smoothing * estimate
        self.limit = min(max(limit, float(p.min_limit)), float(p.max_limit))
        self.counters["updates"] += 1

    def _baseline(self, short: float, dt: float, peak: int, pressed: bool) -> None:
        if self.baseline == 0.0 or short <= self.baseline:
            self.baseline = short  # falls at once
            self._probe_peak = 0.0
        elif not pressed:
            self.baseline += (short - self.baseline) * (1.0 - math.exp(-dt / self.policy.baseline_window))
        elif short <= self.policy.tolerance * self.baseline:
            self.counters["baseline_held"] += 1  # pressed but within tolerance: nothing to learn
        elif self._probe_peak == 0.0:
            self._probe_peak, self._probe_rtt = float(peak), short  # queueing? the next windows tell
            self.counters["baseline_held"] += 1
        elif peak <= self._probe_peak / 2:
            if short >= PROBE_FALL * self._probe_rtt:
                self.baseline = short  # half the concurrency, no faster: the service itself is slower
                self.counters["baseline_relearned"] += 1
            self._probe_peak = 0.0
        elif peak > 0.75 * self._probe_peak:
            # Still near the concurrency noted: keep the highest RTT seen there (RTTs lag the
            # concurrency that caused them, so one window alone may understate the queue).
            self._probe_rtt = max(self._probe_rtt, short)
            self.counters["baseline_held"] += 1
        else:
            self.counters["baseline_held"] += 1  # latency under pressure is queueing, not the service
