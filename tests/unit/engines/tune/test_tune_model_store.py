"""The model store: a saved model (Q-table, both replay buffers, bandit, RNG states) comes back exactly, so a
restored agent decides and learns as the original would have; stored bytes are numpy, never pickle; bad
bytes and other formats are refused by name; every save in Redis bumps the version."""

from __future__ import annotations

import asyncio
import io
import zipfile

import numpy as np
import pytest
import redis.asyncio as aioredis
from apex.mesh.contract import tune as keys

from engines.tune.agent import Bandit, QAgent, Transition
from engines.tune.model_store import FORMAT, Model, ModelError, ModelStore, dumps, loads


def trained(seed: int = 3) -> tuple[QAgent, Bandit]:
    agent, bandit = QAgent(seed=seed, epsilon=0.2), Bandit(9, 3, seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(300):
        s, a = int(rng.integers(0, 50)), agent.act(int(rng.integers(0, 50)))
        agent.learn(Transition(s, a, float(rng.random()), int(rng.integers(0, 50))))
        arm = bandit.choose(2)
        bandit.update(2, arm, float(rng.random()))
    agent.mask[5] = False
    return agent, bandit


def test_a_restored_model_continues_exactly_as_the_original() -> None:
    agent, bandit = trained()
    data = dumps(agent, bandit, last_second=1234)
    copy_agent, copy_bandit, last = loads(data)
    assert last == 1234
    assert np.array_equal(copy_agent.q, agent.q) and np.array_equal(copy_agent.mask, agent.mask)
    assert list(copy_agent.replay.recent) == list(agent.replay.recent)
    assert copy_agent.replay.long == agent.replay.long
    assert np.array_equal(copy_agent.replay.priority, agent.replay.priority)
    assert copy_agent.epsilon == agent.epsilon
    # same RNG states: the next decisions, replays and updates are the same ones
    for i in range(100):
        state = i % 50
        assert copy_agent.act(state) == agent.act(state)
        t = Transition(state, i % 13, 0.5, (i * 7) % 50)
        assert copy_agent.learn(t) == agent.learn(t)
        assert copy_bandit.choose(2) == bandit.choose(2)
    assert np.array_equal(copy_agent.q, agent.q)


def test_stored_bytes_are_plain_numpy_arrays() -> None:
    agent, bandit = trained()
    with zipfile.ZipFile(io.BytesIO(dumps(agent, bandit, 0))) as z:
        names = set(z.namelist())
    assert {"q.npy", "long.npy", "recent.npy", "priority.npy", "bandit_n.npy", "format.npy"} <= names
    z2 = np.load(io.BytesIO(dumps(agent, bandit, 0)), allow_pickle=False)  # would raise on an object array
    assert all(z2[name].dtype != object for name in z2.files)


def test_bad_bytes_and_other_formats_are_refused() -> None:
    with pytest.raises(ModelError, match="not a stored model"):
        loads(b"not a model")
    agent, bandit = trained()
    buf = io.BytesIO()
    arrays = dict(np.load(io.BytesIO(dumps(agent, bandit, 0))))
    arrays["format"] = np.array(FORMAT + 1)
    np.savez(buf, **arrays)
    with pytest.raises(ModelError, match=f"model format {FORMAT + 1}"):
        loads(buf.getvalue())
    arrays["format"] = np.array(FORMAT)
    arrays["mask"] = np.ones(3, dtype=bool)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with pytest.raises(ModelError, match="mask has shape"):
        loads(buf.getvalue())


def test_redis_store_versions_every_save(redis_url: str) -> None:
    async def body() -> None:
        client = aioredis.from_url(redis_url)
        store = ModelStore(client)
        service = "model-store-test"
        await client.delete(keys.model_key(service))
        assert await store.load(service) is None
        agent, bandit = trained()
        model = Model(agent, bandit, 10)
        assert await store.save(service, model, now=1.0) == 1
        agent.learn(Transition(1, 1, 0.1, 2))
        model.last_second = 11
        assert await store.save(service, model, now=2.0) == 2
        loaded = await store.load(service)
        assert loaded is not None and loaded.version == 2 and loaded.last_second == 11
        assert np.array_equal(loaded.agent.q, agent.q)
        assert await client.hget(keys.model_key(service), keys.FORMAT) == str(FORMAT).encode()
        await client.aclose()

    asyncio.run(body())
