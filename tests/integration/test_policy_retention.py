"""Policy history durability: retention keeps the newest N policies and the live one, every audit
record stays; the control plane can tell when its Redis would lose the history on a restart."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from engines.control.store import PolicyStore, StoreError, persistence_problem
from sidecar.policy import convert
from sidecar.support.redis_server import RedisServer
from tests.integration.test_policy_store import change, policy

pytestmark = pytest.mark.integration


def test_keep_versions_drops_old_policies_but_not_the_live_one_nor_audit(redis_url: str) -> None:
    async def main() -> None:
        redis = Redis.from_url(redis_url)
        store = PolicyStore(
            redis, prefix=f"apex:test:{uuid.uuid4().hex[:8]}:", validate=convert.policy, keep_versions=2
        )
        try:
            await store.set("echo", policy("v1"), change(0))  # 100%: live (stable)
            for n in range(2, 7):  # canaries: version 1 stays the live one
                await store.set("echo", policy(f"v{n}"), change(n - 1, rollout_percent=10.0))
            history = await store.history("echo")
            assert [r.version for r in history] == [6, 5, 4, 3, 2, 1]  # every audit record is kept
            kept = {r.version for r in history if not r.policy_omitted}
            assert kept == {6, 5, 1}  # the newest two and the live one
            assert all(r.author == "alice" and r.reason == "because" and r.diff for r in history if r.version > 1)
            assert (await store.get("echo", 1)).policy.clusters[0].authority == "v1"
            with pytest.raises(StoreError, match="dropped by retention"):
                await store.rollback("echo", 3, change(6))
            # A rollback to a kept version works, and the live one moves: version 1 can now go.
            await store.rollback("echo", 5, change(6))
            await store.prune("echo", 2)
            kept = {r.version for r in await store.history("echo") if not r.policy_omitted}
            assert kept == {7, 6}
        finally:
            await redis.aclose()

    asyncio.run(main())


def test_persistence_problem_is_reported_until_aof_is_on(redis_server: RedisServer) -> None:
    async def main() -> None:
        redis = Redis.from_url(redis_server.url)
        try:
            problem = await persistence_problem(redis)  # the test server runs with --save "" --appendonly no
            assert problem is not None and "appendonly yes" in problem
            await redis.config_set("appendonly", "yes")
            assert await persistence_problem(redis) is None
            await redis.config_set("appendonly", "no")
            await redis.config_set("save", "3600 1")
            assert await persistence_problem(redis) is None
        finally:
            await redis.aclose()

    asyncio.run(main())
