"""Agents: Q-learning finds the known optimum of a small problem in bounded seeded steps; bandit; replay."""

from __future__ import annotations

import numpy as np

from engines.tune.agent import Bandit, QAgent, Replay, Transition

# A small problem: a parameter at level 0..6; actions down / stay / up move it one level; the reward
# of a level is highest at level 4 (the known optimum) and falls off on both sides.
LEVELS, OPTIMUM = 7, 4


def level_reward(level: int) -> float:
    return 1.0 - 0.3 * abs(level - OPTIMUM)


def test_q_learning_finds_the_known_optimum_in_bounded_steps() -> None:
    agent = QAgent(n_states=LEVELS, n_actions=3, alpha=0.3, gamma=0.8, epsilon=0.2, replay=4, seed=5)
    rng = np.random.default_rng(5)
    state = int(rng.integers(LEVELS))
    for step in range(1500):
        a = agent.act(state)
        nxt = min(max(state + a - 1, 0), LEVELS - 1)
        agent.learn(Transition(state, a, level_reward(nxt), nxt))
        state = nxt if step % 50 else int(rng.integers(LEVELS))  # restart now and then
    for start in range(LEVELS):  # greedy policy from anywhere walks to the optimum and stays
        s = start
        for _ in range(LEVELS):
            s = min(max(s + agent.act(s, explore=False) - 1, 0), LEVELS - 1)
        assert s == OPTIMUM
    assert agent.act(OPTIMUM, explore=False) == 1


def test_mask_hides_actions() -> None:
    agent = QAgent(n_states=1, n_actions=3, epsilon=1.0, seed=1)
    agent.mask = np.array([True, False, True])
    assert {agent.act(0) for _ in range(200)} == {0, 2}


def test_contextual_bandit_learns_a_best_arm_per_context() -> None:
    bandit = Bandit(n_contexts=2, n_arms=3, seed=2)
    rng = np.random.default_rng(2)
    means = np.array([[0.2, 0.8, 0.5], [0.7, 0.1, 0.3]])
    for i in range(600):
        c = i % 2
        arm = bandit.choose(c)
        bandit.update(c, arm, float(means[c, arm] + 0.1 * rng.standard_normal()))
    assert bandit.best(0) == 1 and bandit.best(1) == 0
    assert bandit.n[0, 1] > bandit.n[0, 0] + bandit.n[0, 2]


def test_replay_keeps_high_priority_experience_and_recent_fifo() -> None:
    replay = Replay(recent=3, long_term=4, seed=0)
    for i in range(4):
        replay.add(Transition(i, 0, 0.0, i), td=0.01)
    replay.add(Transition(99, 0, 0.0, 99), td=5.0)  # surprising: replaces a low-priority one
    replay.add(Transition(100, 0, 0.0, 100), td=0.0)  # dull: kept only in the recent buffer
    assert 99 in {t.state for t in replay.long} and 100 not in {t.state for t in replay.long}
    assert [t.state for t in replay.recent] == [3, 99, 100]
    picks = [t.state for t, idx in replay.sample(200) if idx >= 0]
    assert picks.count(99) > len(picks) / 2  # sampled by priority
