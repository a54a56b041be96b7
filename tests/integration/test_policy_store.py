"""The Redis policy store: versions, audit records, compare-and-set, rollback, change notifications."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from apex.mesh.v1 import config_pb2, control_pb2
from redis.asyncio import Redis

from engines.control.store import NotFound, PolicyStore, StoreError, VersionConflict
from sidecar.policy import convert

pytestmark = pytest.mark.integration


def policy(authority: str) -> config_pb2.Policy:
    msg = config_pb2.Policy()
    msg.route_tables.add(name="inbound").routes.add(name="all", cluster="local")
    msg.clusters.add(name="local", authority=authority).endpoints.add(address="127.0.0.1:80")
    return msg


def change(expected: int, author: str = "alice", **kw: Any) -> control_pb2.Change:
    msg = control_pb2.Change(author=author, reason="because", **kw)
    msg.expected_version = expected
    return msg


def run(redis_url: str, body: Callable[[PolicyStore], Awaitable[None]]) -> None:
    async def main() -> None:
        redis = Redis.from_url(redis_url)
        try:
            await body(PolicyStore(redis, prefix=f"apex:test:{uuid.uuid4().hex[:8]}:", validate=convert.policy))
        finally:
            await redis.aclose()

    asyncio.run(main())


def test_versions_carry_audit_records_and_diffs(redis_url: str) -> None:
    async def body(store: PolicyStore) -> None:
        first = await store.set("echo", policy("a"), change(0, source=control_pb2.TUNER))
        second = await store.set("echo", policy("b"), change(1, author="bob"))
        assert (first.version, second.version) == (1, 2)
        assert second.policy.version == "2"
        assert (second.author, second.reason, second.source) == ("bob", "because", control_pb2.OPERATOR)
        assert first.source == control_pb2.TUNER
        assert second.created_at.seconds > 0
        assert [(c.path, c.old_value, c.new_value) for c in second.diff] == [
            ("clusters[local].authority", '"a"', '"b"')
        ]
        history = await store.history("echo")
        assert [r.version for r in history] == [2, 1]
        assert [r.version for r in await store.history("echo", limit=1)] == [2]
        assert (await store.get("echo", 1)).policy.clusters[0].authority == "a"
        assert await store.services() == ["echo"]

    run(redis_url, body)


def test_compare_and_set_refuses_stale_writers(redis_url: str) -> None:
    async def body(store: PolicyStore) -> None:
        await store.set("echo", policy("a"), change(0))
        results = await asyncio.gather(
            *(store.set("echo", policy(f"w{i}"), change(1, author=f"w{i}")) for i in range(5)),
            return_exceptions=True,
        )
        stored = [r for r in results if isinstance(r, control_pb2.PolicyRecord)]
        conflicts = [r for r in results if isinstance(r, VersionConflict)]
        assert len(stored) == 1 and len(conflicts) == 4
        assert all(c.latest in (1, 2) and c.expected == 1 for c in conflicts)
        assert (await store.heads("echo"))[:2] == (2, 2)
        with pytest.raises(VersionConflict, match="based on version 0 but the latest is 2"):
            await store.set("echo", policy("late"), change(0))
        with pytest.raises(StoreError, match="expected_version is required"):
            await store.set("echo", policy("x"), control_pb2.Change(author="x"))

    run(redis_url, body)


def test_invalid_policies_are_refused_at_the_door(redis_url: str) -> None:
    async def body(store: PolicyStore) -> None:
        bad = policy("a")
        bad.route_tables[0].routes[0].cluster = "ghost"
        with pytest.raises(StoreError) as info:
            await store.set("echo", bad, change(0))
        assert info.value.field == "policy.route_tables[0].routes[0].cluster"
        assert "unknown cluster 'ghost'" in str(info.value)
        with pytest.raises(NotFound):
            await store.get("echo")
        with pytest.raises(StoreError, match="rollout_percent"):
            await store.set("echo", policy("a"), change(0, rollout_percent=0))

    run(redis_url, body)


def test_rollback_writes_a_new_version_with_the_old_content(redis_url: str) -> None:
    async def body(store: PolicyStore) -> None:
        await store.set("echo", policy("a"), change(0))
        await store.set("echo", policy("b"), change(1))
        back = await store.rollback("echo", 1, change(2))
        assert (back.version, back.rollback_of, back.reason) == (3, 1, "because")
        assert back.policy.clusters[0].authority == "a"
        with pytest.raises(NotFound, match="has no version 9"):
            await store.rollback("echo", 9, change(3))

    run(redis_url, body)


def test_a_canary_version_is_latest_but_not_stable(redis_url: str) -> None:
    async def body(store: PolicyStore) -> None:
        await store.set("echo", policy("a"), change(0))
        canary = await store.set("echo", policy("b"), change(1, rollout_percent=25))
        assert canary.rollout_percent == 25
        heads = await store.heads("echo")
        assert (heads.latest, heads.stable) == (2, 1)
        assert len(heads.epoch) == 32
        assert (await store.get("echo")).stable_version == 1

    run(redis_url, body)


def test_every_write_is_announced_on_the_change_channel(redis_url: str) -> None:
    async def body(store: PolicyStore) -> None:
        pubsub = store.redis.pubsub()
        await pubsub.subscribe(store.channel)
        await pubsub.get_message(timeout=1)  # the subscribe confirmation
        await store.set("echo", policy("a"), change(0))
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
        assert message is not None and message["data"] == b"policy:echo"
        await pubsub.aclose()

    run(redis_url, body)
