"""A fast, seeded simulator of open-loop clients -> sidecar -> endpoints, Gymnasium-style reset/step.

Model (time advances in ticks of `tick` seconds, vectorised over the calls of a tick with numpy):
- Arrivals: Poisson(rate(t) * tick) new calls per tick (open loop: clients do not slow down).
- Cache (when the scenario has one and the TTL is > 0): a read hits with the analytic TTL-cache
  probability sum_k p_k * l_k T / (1 + l_k T) over zipf key shares p_k (l_k = p_k * rate); a hit is
  stale with probability 1 - (U/T)(1 - e^(-T/U)) (Poisson updates every U s, entry age uniform on [0, T]).
- Sidecar: calls beyond `concurrency` in flight are rejected at once (no retry). Within a tick a
  free slot serves tick / lat_est calls (lat_est: EWMA of try latencies), since short calls free it. Admitted calls pick
  a group by the route weights, then an endpoint by the balancer: round robin (equal shares),
  least request (shares ~ 1/(1 + active), the P2C/least-request bias), or peak EWMA (shares ~
  1/(ewma_rtt * (1 + active))). Ejected endpoints get nothing unless a whole group is ejected (panic).
- Endpoint: a token queue. A call waits (backlog + rank) / capacity, then takes a lognormal service
  time (median `latency`, sigma 0.5). It fails with `error_rate`; a down endpoint fails in 1 ms.
  The endpoint keeps working on calls whose client gave up (no cancellation reaches it), which is
  what makes retry storms metastable.
  An endpoint queues at most QUEUE_SECONDS of work and refuses calls beyond that in 1 ms.
- Deadline: a try is abandoned after `slo.try_timeout` (default: the SLO latency); a call past
  `slo.deadline` since its first try fails with DEADLINE_EXCEEDED.
- Retries: a failed try is retried after 25 ms x 2^n (jittered) while tries < `attempts`, the
  deadline leaves room, and retries in the last second stay under `retry_budget` x calls + 3.
- Outlier ejection: `eject_after` consecutive failures eject an endpoint for eject_time x times
  ejected, while at most half the endpoints are ejected.
Outcomes are counted in the tick a try is dispatched (its result is known then), so windows see
them up to one deadline early; in-flight counts use the true completion times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from apex.mesh.contract.histogram import STANDARD, Histogram

from engines.tune.params import DEFAULT, Params
from engines.tune.scenario import Scenario

SIGMA = 0.5
HIT_LATENCY = 0.0005
DOWN_LATENCY = 0.001
BACKOFF = 0.025
BUDGET_MIN = 3.0
QUEUE_SECONDS = 1.0  # an endpoint queues at most this much work (capacity x 1 s) and refuses the rest


@dataclass(frozen=True, slots=True)
class Observation:
    """One control interval of telemetry, as the engine would read it from a window."""

    t: float  # end of the interval, seconds since start
    interval: float
    offered: int  # new calls from clients
    calls: int  # calls that ended (any outcome)
    ok: int
    good: int  # ok within the SLO
    errors: int  # ended in an error (endpoint error, deadline, rejection)
    rejected: int  # rejected by the concurrency cap
    timeouts: int
    retries: int
    p50: float
    p99: float
    inflight: int
    cache_hits: int
    stale: int
    ejected: int
    histogram: Histogram = field(repr=False, compare=False)
    slo: float = 0.1

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0


def _zipf_shares(keys: int, s: float) -> np.ndarray:
    w = 1.0 / np.arange(1, keys + 1, dtype=float) ** s
    out: np.ndarray = w / w.sum()
    return out


def hit_probability(shares: np.ndarray, rate: float, ttl: float) -> float:
    """Steady-state hit ratio of a TTL cache under Poisson reads with per-key shares."""
    if ttl <= 0 or rate <= 0:
        return 0.0
    x = shares * rate * ttl
    return float(np.sum(shares * x / (1.0 + x)))


def stale_probability(ttl: float, update_interval: float) -> float:
    """Chance a hit returns data updated since it was cached (age uniform on [0, ttl], Poisson updates)."""
    if ttl <= 0:
        return 0.0
    r = ttl / update_interval
    return float(1.0 - (1.0 - math.exp(-r)) / r)


class Simulator:
    """`reset(seed)` then `step(params)` once per control interval; returns (Observation, done)."""

    def __init__(self, scenario: Scenario, interval: float = 1.0, tick: float = 0.05) -> None:
        if interval < tick or tick <= 0:
            raise ValueError("interval must be at least one tick and tick positive")
        self.scenario = scenario
        self.tick = tick
        self.ticks_per_step = max(1, round(interval / tick))
        self.interval = self.ticks_per_step * tick
        eps = scenario.endpoints
        self._groups = sorted({e.group for e in eps}, key=lambda g: [e.group for e in eps].index(g))
        self._group_of = np.array([self._groups.index(e.group) for e in eps])
        self._shares = _zipf_shares(scenario.cache.keys, scenario.cache.zipf) if scenario.cache else None
        self._ring = math.ceil(scenario.slo.deadline / tick) + 8
        self.reset(scenario.seed)

    # -- setup ---------------------------------------------------------------------------------
    def reset(self, seed: int | None = None, params: Params = DEFAULT) -> None:
        sc = self.scenario
        n = len(sc.endpoints)
        self.rng = np.random.default_rng(sc.seed if seed is None else seed)
        self.params = params
        self.tick_no = 0
        self.capacity = np.array([e.capacity for e in sc.endpoints], dtype=float)
        self.latency = np.array([e.latency for e in sc.endpoints], dtype=float)
        self.error_rate = np.array([e.error_rate for e in sc.endpoints], dtype=float)
        self.down = np.zeros(n, dtype=bool)
        self.backlog = np.zeros(n)
        self.ejected_until = np.full(n, -1.0)
        self.eject_count = np.zeros(n)
        self.consec = np.zeros(n)
        self.ewma = self.latency.copy()
        self.lat_est = float(self.latency.mean())
        self.active_ring = np.zeros((self._ring, n))
        self.retry_ring: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(self._ring)]
        self.calls_1s = 0.0
        self.retries_1s = 0.0
        self._event_pos = [0] * n
        self._update_interval = sc.cache.update_interval if sc.cache else 0.0
        self._cache_pos = 0
        self.done = False

    @property
    def now(self) -> float:
        return self.tick_no * self.tick

    def _apply_events(self, t: float) -> None:
        for i, ep in enumerate(self.scenario.endpoints):
            while self._event_pos[i] < len(ep.events) and ep.events[self._event_pos[i]].at <= t:
                ev = ep.events[self._event_pos[i]]
                if ev.latency is not None:
                    self.latency[i] = ev.latency
                if ev.error_rate is not None:
                    self.error_rate[i] = ev.error_rate
                if ev.capacity is not None:
                    self.capacity[i] = ev.capacity
                if ev.down is not None:
                    self.down[i] = ev.down
                self._event_pos[i] += 1
        cache = self.scenario.cache
        while cache is not None and self._cache_pos < len(cache.events) and cache.events[self._cache_pos][0] <= t:
            self._update_interval = cache.events[self._cache_pos][1]
            self._cache_pos += 1

    def _group_weights(self) -> np.ndarray:
        g = len(self._groups)
        p = self.params
        if g > 1 and p.canary_weight >= 0:
            rest = (1.0 - p.canary_weight) / (g - 1)
            w = np.full(g, rest)
            w[-1] = p.canary_weight
            return w / w.sum() if w.sum() > 0 else np.full(g, 1.0 / g)
        if self.scenario.routes:
            routes = dict(self.scenario.routes)
            w = np.array([routes.get(name, 0.0) for name in self._groups])
            shares: np.ndarray = w / w.sum()
            return shares
        return np.full(g, 1.0 / g)

    # -- the step --------------------------------------------------------------------------------
    def step(self, params: Params | None = None) -> tuple[Observation, bool]:
        if params is not None:
            self.params = params
        acc = np.zeros(10)  # offered, ok, good, errors, rejected, timeouts, retries, hits, stale, latency sum
        buckets = np.zeros(STANDARD.max_index + 1, dtype=np.int64)
        for _ in range(self.ticks_per_step):
            self._tick(acc, buckets)
            if self.now >= self.scenario.duration - 1e-9:
                self.done = True
                break
        h = Histogram()
        nz = np.nonzero(buckets)[0]
        h.buckets = {int(i): int(buckets[i]) for i in nz}
        h.count = int(buckets.sum())
        h.sum = float(acc[9])
        q = h.quantiles((50.0, 99.0))
        offered, ok, good, errors, rejected, timeouts, retries, hits, stale = (int(x) for x in acc[:9])
        obs = Observation(
            t=self.now, interval=self.interval, offered=offered, calls=ok + errors, ok=ok, good=good,
            errors=errors, rejected=rejected, timeouts=timeouts, retries=retries, p50=q[50.0], p99=q[99.0],
            inflight=int(self.active_ring.sum() - self.active_ring[(self.tick_no - 1) % self._ring].sum()),
            cache_hits=hits, stale=stale, ejected=int((self.ejected_until > self.now).sum()), histogram=h,
            slo=self.scenario.slo.latency,
        )  # fmt: skip
        return obs, self.done

    def _tick(self, acc: np.ndarray, buckets: np.ndarray) -> None:
        sc, p, rng, dt = self.scenario, self.params, self.rng, self.tick
        t = self.now
        self._apply_events(t)
        slot = self.tick_no % self._ring
        self.active_ring[(slot - 1) % self._ring] = 0.0  # tries that completed during the last tick
        inflight_per_ep = self.active_ring.sum(axis=0)
        inflight = float(inflight_per_ep.sum())
        decay = math.exp(-dt)
        self.calls_1s *= decay
        self.retries_1s *= decay

        n_new = int(rng.poisson(sc.rate_at(t) * dt))
        acc[0] += n_new
        if self._shares is not None and p.cache_ttl > 0 and n_new:
            hp = hit_probability(self._shares, sc.rate_at(t), p.cache_ttl)
            hits = int(rng.binomial(n_new, hp))
            stale = int(rng.binomial(hits, stale_probability(p.cache_ttl, self._update_interval)))
            n_new -= hits
            acc[1] += hits
            acc[2] += hits
            acc[7] += hits
            acc[8] += stale
            buckets[STANDARD.index(HIT_LATENCY)] += hits
            acc[9] += hits * HIT_LATENCY
        self.calls_1s += n_new
        due = self.retry_ring[slot]
        self.retry_ring[slot] = []
        elapsed = np.concatenate([np.zeros(n_new), *(d[0] for d in due)])
        tries = np.concatenate([np.zeros(n_new, dtype=np.int64), *(d[1] for d in due)])
        n = elapsed.size
        self.tick_no += 1
        if n == 0:
            self.backlog = np.maximum(self.backlog - self.capacity * dt, 0.0)
            return
        # A call that finishes within the tick holds its slot for only part of it: free slots are
        # shared by lat_est / tick calls each (lat_est: EWMA of recent try latencies).
        occupancy = min(1.0, max(self.lat_est / dt, 0.05))
        room = max(int((p.concurrency - inflight) / occupancy), 0)
        if n > room:
            acc[3] += n - room
            acc[4] += n - room
            keep = rng.permutation(n)[:room]
            elapsed, tries = elapsed[keep], tries[keep]
            n = room
            if n == 0:
                self.backlog = np.maximum(self.backlog - self.capacity * dt, 0.0)
                return
        counts = self._assign(n, inflight_per_ep, t)
        ep = np.repeat(np.arange(counts.size), counts)
        starts = np.cumsum(counts) - counts
        rank = np.arange(n) - np.repeat(starts, counts)
        cap = self.capacity[ep]
        # arrivals spread evenly over the tick (jittered): u in [0, 1) is the dispatch time within it
        u = (rank + rng.random(n)) / np.repeat(np.maximum(counts, 1), counts)
        wait = np.maximum(self.backlog[ep] + rank - cap * u * dt, 0.0) / cap
        service = self.latency[ep] * np.exp(SIGMA * rng.standard_normal(n))
        lat = np.where(self.down[ep], DOWN_LATENCY, wait + service)
        queued = np.bincount(ep, weights=(wait <= QUEUE_SECONDS) & ~self.down[ep], minlength=counts.size)
        self.backlog = np.maximum(self.backlog + queued - self.capacity * dt, 0.0)
        failed = (rng.random(n) < self.error_rate[ep]) | self.down[ep]
        full = wait > QUEUE_SECONDS  # the endpoint's queue is full: it refuses at once
        lat = np.where(full, DOWN_LATENCY, lat)
        failed |= full
        left = np.minimum(sc.slo.deadline - elapsed, sc.slo.try_timeout)
        timeout = lat > left
        lat = np.minimum(lat, left)
        failed |= timeout
        # in flight until completion
        offs = np.minimum(np.floor(u + lat / dt).astype(np.int64), self._ring - 1)
        np.add.at(self.active_ring, ((slot + offs) % self._ring, ep), 1.0)
        self.lat_est = 0.8 * self.lat_est + 0.2 * float(lat.mean())
        self._outliers(ep, failed, counts, t)
        self._balancer_stats(ep, lat, counts)
        # retries
        backoff = BACKOFF * (2.0**tries) * rng.random(n)
        can = failed & (tries + 1 < p.attempts) & (elapsed + lat + backoff < sc.slo.deadline)
        want = int(np.count_nonzero(can))
        if want:
            allowed = max(int(p.retry_budget * self.calls_1s + BUDGET_MIN - self.retries_1s), 0)
            if want > allowed:
                idx = np.nonzero(can)[0]
                can[idx[allowed:]] = False
                want = allowed
            self.retries_1s += want
            acc[6] += want
            r_el = (elapsed + lat + backoff)[can]
            r_off = np.maximum(np.floor(u[can] + (lat + backoff)[can] / dt).astype(np.int64), 1)
            r_off = np.minimum(r_off, self._ring - 1)
            r_tries = tries[can] + 1
            for off in np.unique(r_off):
                m = r_off == off
                self.retry_ring[(slot + int(off)) % self._ring].append((r_el[m], r_tries[m]))
        final_fail = failed & ~can
        acc[3] += int(np.count_nonzero(final_fail))
        acc[5] += int(np.count_nonzero(final_fail & timeout))
        ok = ~failed
        total = (elapsed + lat)[ok]
        acc[1] += total.size
        acc[2] += int(np.count_nonzero(total <= sc.slo.latency))
        record = ok | (final_fail & ~self.down[ep])
        recorded = (elapsed + lat)[record]
        acc[9] += float(recorded.sum())
        _record(buckets, recorded)

    def _assign(self, n: int, active: np.ndarray, t: float) -> np.ndarray:
        """How many of n admitted calls go to each endpoint (group by route weight, then the balancer)."""
        rng = self.rng
        eligible = self.ejected_until <= t
        gw = self._group_weights()
        per_group = rng.multinomial(n, gw)
        counts = np.zeros(len(self.capacity), dtype=np.int64)
        lb = self.params.lb
        for g, k in enumerate(per_group):
            if k == 0:
                continue
            members = self._group_of == g
            pool = members & eligible
            if not pool.any():
                pool = members  # panic: everything in the group is ejected
            if lb == "round_robin":
                w = pool.astype(float)
            elif lb == "least_request":
                w = pool / (1.0 + active)
            else:
                w = pool / (self.ewma * (1.0 + active))
            counts += rng.multinomial(int(k), w / w.sum())
        return counts

    def _outliers(self, ep: np.ndarray, failed: np.ndarray, counts: np.ndarray, t: float) -> None:
        p = self.params
        n_eps = counts.size
        starts = np.cumsum(counts) - counts
        for i in np.nonzero(counts)[0]:
            f = failed[starts[i] : starts[i] + counts[i]]
            oks = np.nonzero(~f)[0]
            self.consec[i] = f.size - 1 - oks[-1] if oks.size else self.consec[i] + f.size
            room = (self.ejected_until > t).sum() + 1 <= n_eps // 2 or n_eps == 1
            if self.consec[i] >= p.eject_after and self.ejected_until[i] <= t and room:
                self.eject_count[i] += 1
                self.ejected_until[i] = t + p.eject_time * self.eject_count[i]
                self.consec[i] = 0

    def _balancer_stats(self, ep: np.ndarray, lat: np.ndarray, counts: np.ndarray) -> None:
        sums = np.bincount(ep, weights=lat, minlength=counts.size)
        seen = counts > 0
        mean = np.where(seen, sums / np.maximum(counts, 1), self.ewma)
        w = math.exp(-self.tick / 10.0)  # Finagle's peak EWMA decay time of 10 s
        self.ewma = np.where(mean > self.ewma, mean, w * self.ewma + (1 - w) * mean)


def _record(buckets: np.ndarray, seconds: np.ndarray) -> None:
    """Vectorised Histogram.record into dense scheme-1 bucket counts (same index rule as the codec)."""
    if seconds.size == 0:
        return
    micros = seconds * 1e6
    idx = np.where(micros > 1.0, np.floor(np.log2(np.maximum(micros, 1.0)) * STANDARD.sub_buckets), 0)
    idx = np.minimum(idx, STANDARD.max_index).astype(np.int64)
    buckets += np.bincount(idx, minlength=buckets.size)
