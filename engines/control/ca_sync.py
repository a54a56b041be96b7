"""Keeps one replica's mesh CA equal to the shared one in Redis, and applies operators' changes to it.

A change (rotate, retire) is made on a copy of the newest stored CA and written compare-and-set;
when another replica wrote first, it is re-applied on top of that one. A replica that sees a newer
version (the "ca" notification, or its tick) adopts it in place — the same MeshCA object, so the
mTLS port's certificate fetcher sees the new roots — and sends the bundle to its own sidecars.
Versions are compared for equality, not order, so a record re-created after a Redis restart
without persistence is still noticed.
Redis being down changes nothing in force: the replica keeps signing with the CA it holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from engines.security.ca import MeshCA
from engines.security.ca_store import CaStore

log = logging.getLogger(__name__)

ATTEMPTS = 5


class CaConflict(Exception):
    """The stored CA kept changing under a change (other replicas writing): try again."""


class CaSync:
    def __init__(self, store: CaStore, ca: MeshCA, version: int, on_change: Callable[[], None]) -> None:
        self.store = store
        self.ca = ca
        self.version = version
        self.on_change = on_change  # Hub.announce_bundle: the new bundle to this replica's sidecars

    def _adopt(self, ca: MeshCA, version: int) -> None:
        self.ca.roots = ca.roots
        self.version = version
        self.on_change()

    async def check(self) -> bool:
        """Adopt the stored CA when its version differs from the one held (True when it was). A record
        gone from Redis (a restart without persistence) is written back from this replica's CA."""
        stored = await self.store.version()
        if stored == self.version:
            return False
        if stored == 0:
            restored = await self.store.write(self.ca, 0)
            if restored is not None:
                self.version = restored
                log.warning("the shared mesh CA was missing from Redis (restarted without persistence?): restored")
            return False
        try:
            found = await self.store.read()
        except ValueError as exc:  # altered in Redis, or sealed with another key: keep signing with ours
            log.error("the shared mesh CA was not adopted: %s", exc)
            return False
        if found is None or found[1] == self.version:
            return False
        self._adopt(*found)
        log.warning("mesh CA version %d adopted from the store: %d root(s) trusted", self.version, len(self.ca.roots))
        return True

    async def update(self, change: Callable[[MeshCA], None]) -> int:
        """Apply `change` to the newest stored CA and store it; the new version (CaConflict after
        ATTEMPTS lost races; RedisError / ValueError from the store pass through)."""
        for _ in range(ATTEMPTS):
            found = await self.store.read()
            base, version = found if found is not None else (self.ca, 0)
            candidate = base.copy()
            change(candidate)
            written = await self.store.write(candidate, version)
            if written is not None:
                self._adopt(candidate, written)
                return written
        raise CaConflict(f"the mesh CA changed {ATTEMPTS} times during this change; try again")
