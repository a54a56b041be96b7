"""The tuned controller: Q-learning proposes bounded moves, a bandit picks the balancer, the safety gate decides.

Each 1 s window: (1) if a trial is running, its window goodput goes to the Canary, which promotes,
keeps waiting, or rolls back (at once on a regression); (2) otherwise the Q-agent learns from the
last decision (reward = mean reward of the windows since, state = the discretised window) and picks
an action; the proposed configuration passes the Gate (bounds, step size, rate) and, if anything
changed, starts a trial against the last `baseline` windows. Every `bandit_every` windows with no
trial running, the contextual bandit (context: error level x tail level) may switch the balancer.
`shadow=True` decides and records but keeps the configuration (the shadow mode of issue 12).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

from engines.tune import reward as rewards
from engines.tune.agent import ACTIONS, Bandit, QAgent, Transition, action_mask, discretise
from engines.tune.params import DEFAULT, LB_POLICIES, Bounds, Params
from engines.tune.safety import Canary, Gate, Limits, Verdict
from engines.tune.scenario import Scenario
from engines.tune.sim import Observation


@dataclass(frozen=True, slots=True)
class Decision:
    t: float
    action: str
    before: Params
    after: Params
    evidence: str


BOUNDS = Bounds()
LIMITS = Limits(max_step=0.6, min_interval=3.0)


class Tuner:
    name = "tuned"
    interval = 1.0

    def __init__(self, scenario: Scenario, *, bounds: Bounds = BOUNDS, limits: Limits = LIMITS,
                 seed: int = 0, epsilon: float = 0.1, trial_windows: int = 2, bandit_every: int = 10,
                 shadow: bool = False, agent: QAgent | None = None, bandit: Bandit | None = None) -> None:  # fmt: skip
        self.agent = agent or QAgent(seed=seed, epsilon=epsilon)
        self.agent.mask = action_mask(scenario.cache is not None, len({e.group for e in scenario.endpoints}) > 1)
        self.bandit = bandit or Bandit(9, len(LB_POLICIES), seed=seed + 7)
        self.bounds, self.limits = bounds, limits
        self.trial_windows, self.bandit_every, self.shadow = trial_windows, bandit_every, shadow
        self.has_canary = len({e.group for e in scenario.endpoints}) > 1
        self.routes = dict(scenario.routes)
        order = [e.group for e in scenario.endpoints]
        self.canary_group = max(set(order), key=order.index)  # the simulator's canary: the last group to appear
        self.reset()

    def reset(self) -> None:
        self.gate = Gate(self.bounds, self.limits)
        self.canary: Canary | None = None
        self.recent: deque[float] = deque(maxlen=10)
        self.pending: tuple[int, int] | None = None
        self.rewards_since: list[float] = []
        self.prev_offered: int | None = None
        self.windows = 0
        self.arm: tuple[int, int] | None = None
        self.arm_rewards: list[float] = []
        self.decisions: list[Decision] = []
        self.last_churn = 0.0

    def start(self, params: Params) -> Params:
        self.reset()
        p = params
        if self.has_canary and p.canary_weight < 0 and self.routes:
            share = self.routes.get(self.canary_group, 0.0) / sum(self.routes.values())
            p = replace(p, canary_weight=share)
        return self.bounds.clamp(p)

    def control_params(self) -> Params | None:
        """While a trial runs: the setting the control group keeps (the runner simulates it alongside)."""
        return self.canary.previous if self.canary is not None else None

    def decide(self, obs: Observation, params: Params, control: Observation | None = None) -> Params:
        self.windows += 1
        r = rewards.reward(obs, self.last_churn)
        self.last_churn = 0.0
        good = obs.good / max(obs.offered, 1)
        state = discretise(obs, params, self.prev_offered)
        self.prev_offered = obs.offered
        self.rewards_since.append(r)
        self.arm_rewards.append(r)
        if self.canary is not None:
            ctrl = control.good / max(control.offered, 1) if control is not None else None
            verdict = self.canary.observe(good, ctrl)
            if verdict is Verdict.PENDING:
                return params
            canary, self.canary = self.canary, None
            if verdict is Verdict.ROLLBACK:
                self._record(obs.t, "rollback", params, canary.previous, canary.reason)
                return self._apply(canary.previous, params)
            self._record(obs.t, "promote", params, params, canary.reason)
        self.recent.append(good)
        if self.pending is not None:
            s, a = self.pending
            mean_r = sum(self.rewards_since) / len(self.rewards_since)
            self.agent.learn(Transition(s, a, mean_r, state))
        self.rewards_since = []
        context = (state // 3**6) * 3 + (state // 3**4) % 3  # rejection level x tail level
        proposed = params
        if self.windows % self.bandit_every == 0:
            if self.arm is not None:
                self.bandit.update(self.arm[0], self.arm[1], sum(self.arm_rewards) / len(self.arm_rewards))
            arm = self.bandit.choose(context)
            self.arm, self.arm_rewards = (context, arm), []
            proposed = replace(params, lb=LB_POLICIES[arm])
            self.pending = None
            label = f"lb={LB_POLICIES[arm]}"
        else:
            a = self.agent.act(state)
            self.pending = (state, a)
            proposed = ACTIONS[a].apply(params)
            label = ACTIONS[a].name
        admitted = self.gate.admit(obs.t, params, proposed)
        if admitted == params:
            return params
        self.canary = Canary(params, admitted, list(self.recent), windows=self.trial_windows)
        self._record(obs.t, label, params, admitted, f"reward {r:.3f}, good {good:.3f}")
        return self._apply(admitted, params)

    def _apply(self, new: Params, old: Params) -> Params:
        if self.shadow:
            return old
        self.last_churn = rewards.churn(old, new)
        return new

    def _record(self, t: float, action: str, before: Params, after: Params, evidence: str) -> None:
        self.decisions.append(Decision(t, action, before, after, evidence))


def train(scenario: Scenario, episodes: int, seed: int = 0, **kw: object) -> Tuner:
    """A Tuner whose agent has run `episodes` exploring episodes of `scenario` on other seeds."""
    from engines.tune.run import run

    tuner = Tuner(scenario, seed=seed, epsilon=0.3, **kw)  # type: ignore[arg-type]
    for e in range(episodes):
        run(scenario, tuner, seed=scenario.seed + 1000 * (e + 1) + seed)
    tuner.agent.epsilon = 0.05
    return tuner


__all__ = ["DEFAULT", "Decision", "Tuner", "train"]
