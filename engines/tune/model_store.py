"""The learned model of one service, persisted: numpy .npz bytes (no pickle) in Redis, versioned.

`dumps(agent, bandit, last_second)` packs the Q-table, both replay buffers (recent FIFO and the
long-term prioritised one: states, actions, rewards, next states, priorities), the agent's
epsilon and the bandit's counts and totals, and both RNG states (JSON text), with a FORMAT
number; `loads(data)` rebuilds them (np.load with allow_pickle=False), refusing a file of another
format or shape with a clear ModelError. `ModelStore.save/load` keep it in the hash
`apex.mesh.contract.tune.model_key(service)` and bump VERSION on every save, so a restarted
engine resumes learning where the last save left it.
"""

from __future__ import annotations

import io
import json
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
from apex.mesh.contract import tune as keys

from engines.tune.agent import Bandit, QAgent, Transition

FORMAT = 1


class ModelError(ValueError):
    """Stored bytes that are not a model this engine can use (names why)."""


@dataclass(slots=True)
class Model:
    agent: QAgent
    bandit: Bandit
    last_second: int  # newest telemetry second learned from (-1: none)
    version: int = 0  # the store's counter (0: never saved)


def _transitions(ts: list[Transition]) -> np.ndarray:
    return np.array([(t.state, t.action, t.reward, t.next_state) for t in ts], dtype=float).reshape(-1, 4)


def _from_rows(rows: np.ndarray) -> list[Transition]:
    return [Transition(int(s), int(a), float(r), int(n)) for s, a, r, n in rows]


def dumps(agent: QAgent, bandit: Bandit, last_second: int) -> bytes:
    buf = io.BytesIO()
    long_n = len(agent.replay.long)
    np.savez_compressed(
        buf,
        format=np.array(FORMAT),
        q=agent.q,
        hyper=np.array([agent.alpha, agent.gamma, agent.epsilon, agent.replay_k]),
        mask=agent.mask,
        recent=_transitions(list(agent.replay.recent)),
        recent_cap=np.array(agent.replay.recent.maxlen or 0),
        long=_transitions(agent.replay.long),
        priority=agent.replay.priority[:long_n],
        long_cap=np.array(agent.replay.capacity),
        rng=np.array(json.dumps(agent.rng.bit_generator.state)),
        replay_rng=np.array(json.dumps(agent.replay.rng.bit_generator.state)),
        bandit_n=bandit.n,
        bandit_total=bandit.total,
        bandit_c=np.array(bandit.c),
        bandit_rng=np.array(json.dumps(bandit.rng.bit_generator.state)),
        last_second=np.array(last_second),
    )
    return buf.getvalue()


def loads(data: bytes) -> tuple[QAgent, Bandit, int]:
    try:
        z = np.load(io.BytesIO(data), allow_pickle=False)
        fmt = int(z["format"])
        if fmt != FORMAT:
            raise ModelError(f"model format {fmt}, this engine reads format {FORMAT}")
        q = z["q"]
        alpha, gamma, epsilon, k = (float(x) for x in z["hyper"])
        agent = QAgent(q.shape[0], q.shape[1], alpha=alpha, gamma=gamma, epsilon=epsilon, replay=int(k))
        agent.q = q.astype(float)
        mask = z["mask"]
        if mask.shape != (q.shape[1],):
            raise ModelError(f"mask has shape {mask.shape}, expected ({q.shape[1]},)")
        agent.mask = mask.astype(bool)
        replay = agent.replay
        replay.recent = deque(_from_rows(z["recent"]), maxlen=int(z["recent_cap"]) or None)
        replay.capacity = int(z["long_cap"])
        replay.long = _from_rows(z["long"])
        replay.priority = np.zeros(replay.capacity)
        replay.priority[: len(replay.long)] = z["priority"]
        agent.rng.bit_generator.state = json.loads(str(z["rng"]))
        replay.rng.bit_generator.state = json.loads(str(z["replay_rng"]))
        n, total = z["bandit_n"], z["bandit_total"]
        bandit = Bandit(n.shape[0], n.shape[1], c=float(z["bandit_c"]))
        bandit.n, bandit.total = n.astype(float), total.astype(float)
        bandit.rng.bit_generator.state = json.loads(str(z["bandit_rng"]))
        return agent, bandit, int(z["last_second"])
    except ModelError:
        raise
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise ModelError(f"not a stored model: {type(exc).__name__}: {exc}") from None


class ModelStore:
    """Models per service in Redis (a redis.asyncio client)."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis

    async def load(self, service: str) -> Model | None:
        raw: Any = await self.redis.hmget(keys.model_key(service), [keys.MODEL, keys.VERSION])
        data, version = raw
        if data is None:
            return None
        agent, bandit, last = loads(bytes(data))
        return Model(agent, bandit, last, int(version or 0))

    async def save(self, service: str, model: Model, now: float | None = None) -> int:
        """Store `model`; returns its new version (the previous + 1)."""
        key = keys.model_key(service)
        data = dumps(model.agent, model.bandit, model.last_second)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hincrby(key, keys.VERSION, 1)
        pipe.hset(key, mapping={keys.MODEL: data, keys.FORMAT: FORMAT, keys.LAST_SECOND: model.last_second,
                                keys.SAVED_AT: time.time() if now is None else now})  # fmt: skip
        version, _ = await pipe.execute()
        model.version = int(version)
        return model.version
