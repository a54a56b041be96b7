"""Proof that a call went through every sidecar on its path: each hop's admin counters
(Admin.GetStats, per listener and route) read before and after, and the difference checked.

Background traffic is kept out of the count: a sidecar asks its upstream for gRPC reflection
(which of a service's methods are unary) in the background, and on the mesh path that lookup
passes through the next sidecar as a call of its own. The conformance configs route reflection
to a route named REFLECTION_ROUTE, which is not counted. Calls still finishing from an earlier
test are waited out before the "before" reading (every started call has a final status).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import grpc
from apex.mesh.v1 import admin_pb2, admin_pb2_grpc

REFLECTION_ROUTE = "reflection"
REFLECTION_SERVICE = "grpc.reflection.v1alpha.ServerReflection"


@dataclass(frozen=True)
class Counts:
    calls: int
    codes: Counter[str]

    @property
    def finished(self) -> int:
        return sum(self.codes.values())

    def __sub__(self, other: Counts) -> Counts:
        codes = Counter(self.codes)
        codes.subtract(other.codes)
        return Counts(self.calls - other.calls, +codes)


class Hop:
    """One sidecar listener on a path, read through that sidecar's admin API."""

    def __init__(self, name: str, admin: str, listener: str) -> None:
        self.name = name
        self.admin = admin
        self.listener = listener
        self._channel = grpc.insecure_channel(admin)
        self._stub = admin_pb2_grpc.AdminStub(self._channel)

    def read(self) -> Counts:
        """Calls and final status codes summed over the listener's routes (reflection left out)."""
        stats = self._stub.GetStats(admin_pb2.GetStatsRequest(), timeout=10)
        calls, codes = 0, Counter[str]()
        for route in stats.routes:
            if route.listener == self.listener and route.route != REFLECTION_ROUTE:
                calls += route.calls
                codes.update(dict(route.status_codes))
        return Counts(calls, codes)

    def settled(self, timeout: float = 15.0) -> Counts:
        """The counts once every call this listener started has finished."""
        deadline = time.monotonic() + timeout
        while True:
            counts = self.read()
            if counts.finished == counts.calls:
                return counts
            assert time.monotonic() < deadline, f"{self.name}: calls still in flight: {counts}"
            time.sleep(0.01)

    def close(self) -> None:
        self._channel.close()

    def __repr__(self) -> str:
        return f"Hop({self.name})"


Expected = tuple[int, Mapping[str, int] | None]  # calls, final codes (None: any codes, as many as calls)


class Watch:
    """Counts on every hop of a path, taken now; `expect` checks what a test's calls added."""

    def __init__(self, hops: Sequence[Hop]) -> None:
        assert hops, "a proxied path has at least one sidecar"
        self.hops = list(hops)
        self.before = [hop.settled() for hop in self.hops]

    def added(self) -> list[Counts]:
        """What each hop counted since the watch began, once its calls have finished."""
        return [hop.settled() - before for hop, before in zip(self.hops, self.before, strict=True)]

    def expect(self, calls: int, codes: Mapping[str, int] | None = None, allowed: set[str] | None = None) -> None:
        """Every hop saw exactly `calls` calls, ending with `codes` (or only codes in `allowed`)."""
        self.expect_each([(calls, codes)] * len(self.hops), allowed)

    def expect_each(
        self, expected: Sequence[Expected], allowed: set[str] | None = None, wait: float = 5.0, timeout: float = 15.0
    ) -> None:
        assert len(expected) == len(self.hops), (expected, self.hops)
        for hop, before, (calls, codes) in zip(self.hops, self.before, expected, strict=True):
            # Counts may trail the caller's answer a little (a final status is recorded as the hop
            # finishes the call): wait, briefly, for the expected calls to be counted and finished.
            deadline = time.monotonic() + wait
            while True:
                added = hop.read() - before
                if added.calls >= calls and added.finished >= added.calls:
                    break
                if time.monotonic() > deadline:
                    added = hop.settled(timeout) - before
                    break
                time.sleep(0.01)
            what = f"{hop.name}: expected {calls} call(s) {dict(codes or {})}, counters added {added}"
            assert added.calls == calls, what
            assert added.finished == calls, what
            if codes is not None:
                assert dict(added.codes) == {k: v for k, v in codes.items() if v}, what
            if allowed is not None:
                assert set(added.codes) <= allowed, what
