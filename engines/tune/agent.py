"""Learning agents (pure numpy, seeded): tabular Q-learning with two replay buffers, and a contextual bandit.

State (`discretise`): seven features, three levels each (3^7 = 2187 states): rejections/offered,
endpoint errors/calls, p99/SLO, in-flight/cap (load against the cap), offered trend against the
previous window, stale/offered (0 without a cache), and the cap itself (< 100, < 400, more).
Actions (`ACTIONS`): no-op, or move one parameter one bounded step (cap x0.4 / x1.5, attempts -1/+1,
retry budget -0.2/+0.2, ejection threshold x0.6 / x1.6, cache TTL x0.5 / x2, canary weight -0.05/+0.05).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from engines.tune.params import Params
from engines.tune.sim import Observation


@dataclass(frozen=True, slots=True)
class Action:
    name: str
    param: str | None
    mul: float = 1.0
    add: float = 0.0

    def apply(self, p: Params) -> Params:
        if self.param is None:
            return p
        old = getattr(p, self.param)
        if self.param == "canary_weight" and old < 0:
            return p  # the scenario's weights are in force: set canary_weight explicitly first
        v = old * self.mul + self.add
        return replace(p, **{self.param: round(v) if isinstance(old, int) else float(v)})  # type: ignore[arg-type]


ACTIONS: tuple[Action, ...] = (
    Action("noop", None),
    Action("cap_down", "concurrency", mul=0.4),
    Action("cap_up", "concurrency", mul=1.5),
    Action("attempts_down", "attempts", add=-1),
    Action("attempts_up", "attempts", add=1),
    Action("budget_down", "retry_budget", add=-0.2),
    Action("budget_up", "retry_budget", add=0.2),
    Action("eject_sooner", "eject_after", mul=0.6),
    Action("eject_later", "eject_after", mul=1.6),
    Action("ttl_down", "cache_ttl", mul=0.5),
    Action("ttl_up", "cache_ttl", mul=2.0, add=1.0),
    Action("canary_down", "canary_weight", add=-0.05),
    Action("canary_up", "canary_weight", add=0.05),
)
N_STATES = 3**7


def _level(x: float, low: float, high: float) -> int:
    return 0 if x < low else (1 if x < high else 2)


def discretise(obs: Observation, params: Params, prev_offered: int | None) -> int:
    offered = max(obs.offered, 1)
    endpoint_errors = obs.errors - obs.rejected
    feats = (
        _level(obs.rejected / offered, 0.01, 0.1),
        _level(endpoint_errors / max(obs.calls, 1), 0.01, 0.05),
        _level(obs.p99 / obs.slo if obs.calls else 0.0, 0.5, 1.0),
        _level(obs.inflight / max(params.concurrency, 1), 0.5, 0.9),
        1 if prev_offered is None else _level(obs.offered / max(prev_offered, 1), 0.9, 1.1),
        _level(obs.stale / offered, 0.05, 0.3),
        _level(float(params.concurrency), 100.0, 400.0),
    )
    s = 0
    for f in feats:
        s = s * 3 + f
    return s


@dataclass(frozen=True, slots=True)
class Transition:
    state: int
    action: int
    reward: float
    next_state: int


class Replay:
    """Two buffers: recent experience (FIFO) and a long-term one sampled by priority (|TD error| + eps)."""

    def __init__(self, recent: int = 256, long_term: int = 4096, seed: int = 0) -> None:
        self.recent: deque[Transition] = deque(maxlen=recent)
        self.long: list[Transition] = []
        self.priority = np.zeros(long_term)
        self.capacity = long_term
        self.rng = np.random.default_rng(seed)

    def add(self, t: Transition, td: float) -> None:
        self.recent.append(t)
        p = abs(td) + 1e-3
        if len(self.long) < self.capacity:
            self.long.append(t)
            self.priority[len(self.long) - 1] = p
        else:  # replace the lowest-priority transition if this one matters more
            i = int(np.argmin(self.priority))
            if p > self.priority[i]:
                self.long[i] = t
                self.priority[i] = p

    def sample(self, k: int) -> list[tuple[Transition, int]]:
        """k//2 recent (index -1) and k - k//2 long-term transitions (with their index), by priority."""
        out: list[tuple[Transition, int]] = []
        if self.recent:
            for i in self.rng.integers(0, len(self.recent), size=k // 2):
                out.append((self.recent[int(i)], -1))
        n = len(self.long)
        if n:
            pr = self.priority[:n] / self.priority[:n].sum()
            for i in self.rng.choice(n, size=k - k // 2, p=pr):
                out.append((self.long[int(i)], int(i)))
        return out


class QAgent:
    """Epsilon-greedy tabular Q-learning with replay; `mask` hides actions that do not apply."""

    def __init__(self, n_states: int = N_STATES, n_actions: int = len(ACTIONS), *, alpha: float = 0.2,
                 gamma: float = 0.9, epsilon: float = 0.1, replay: int = 8, seed: int = 0,
                 optimism: float = 1.0) -> None:  # fmt: skip
        # Optimistic start: every value begins at the most a state could be worth (rewards are at
        # most 1 per step), so each action is tried in each state before the agent settles.
        self.q = np.full((n_states, n_actions), optimism / (1.0 - gamma))
        self.alpha, self.gamma, self.epsilon, self.replay_k = alpha, gamma, epsilon, replay
        self.rng = np.random.default_rng(seed)
        self.replay = Replay(seed=seed + 1)
        self.mask = np.ones(n_actions, dtype=bool)

    def act(self, state: int, explore: bool = True) -> int:
        allowed = np.nonzero(self.mask)[0]
        if explore and self.rng.random() < self.epsilon:
            return int(self.rng.choice(allowed))
        values = self.q[state, allowed]
        best = allowed[values == values.max()]
        return int(best[0]) if best.size == 1 else int(self.rng.choice(best))

    def _td(self, t: Transition) -> float:
        target = t.reward + self.gamma * float(self.q[t.next_state, self.mask].max())
        return target - float(self.q[t.state, t.action])

    def learn(self, t: Transition) -> float:
        td = self._td(t)
        self.q[t.state, t.action] += self.alpha * td
        self.replay.add(t, td)
        for old, idx in self.replay.sample(self.replay_k):
            d = self._td(old)
            self.q[old.state, old.action] += self.alpha * d
            if idx >= 0:
                self.replay.priority[idx] = abs(d) + 1e-3
        return td


class Bandit:
    """Contextual bandit for one-shot choices: UCB1 per context over `n_arms` (mean reward per pull)."""

    def __init__(self, n_contexts: int, n_arms: int, c: float = 0.5, seed: int = 0) -> None:
        self.n = np.zeros((n_contexts, n_arms))
        self.total = np.zeros((n_contexts, n_arms))
        self.c = c
        self.rng = np.random.default_rng(seed)

    def choose(self, context: int) -> int:
        n = self.n[context]
        untried = np.nonzero(n == 0)[0]
        if untried.size:
            return int(self.rng.choice(untried))
        ucb = self.total[context] / n + self.c * np.sqrt(np.log(n.sum()) / n)
        return int(np.argmax(ucb))

    def update(self, context: int, arm: int, reward: float) -> None:
        self.n[context, arm] += 1
        self.total[context, arm] += reward

    def best(self, context: int) -> int:
        n = self.n[context]
        return int(np.argmax(np.where(n > 0, self.total[context] / np.maximum(n, 1), -np.inf)))


def action_mask(has_cache: bool, has_canary: bool) -> np.ndarray:
    names: Sequence[str] = [a.name for a in ACTIONS]
    mask = np.ones(len(names), dtype=bool)
    for i, name in enumerate(names):
        if name.startswith("ttl") and not has_cache:
            mask[i] = False
        if name.startswith("canary") and not has_canary:
            mask[i] = False
    return mask
