"""A per-endpoint gate: open, limited to n permits, or shut (linkerd's `stack::gate`).

The gate is the mechanism on the data path; controllers (the outlier detector) decide when
to flip it. The balancer only asks `admits()` and takes a permit with `acquire()`.
"""

from __future__ import annotations

import enum


class GateState(enum.Enum):
    OPEN = "open"
    LIMITED = "limited"
    SHUT = "shut"


class Gate:
    __slots__ = ("limit_to", "permits", "state")

    def __init__(self) -> None:
        self.state = GateState.OPEN
        self.permits = 0
        self.limit_to = 0

    def admits(self) -> bool:
        return self.state is GateState.OPEN or (self.state is GateState.LIMITED and self.permits > 0)

    def acquire(self) -> bool:
        """Take a permit for one call; True when the call is a limited (probe) call."""
        if self.state is GateState.LIMITED:
            if self.permits <= 0:
                raise RuntimeError("acquire on a limited gate without permits")
            self.permits -= 1
            return True
        if self.state is GateState.SHUT:
            raise RuntimeError("acquire on a shut gate")
        return False

    def give_back(self) -> None:
        """Return a permit whose call ended without a verdict (e.g. cancelled)."""
        if self.state is GateState.LIMITED and self.permits < self.limit_to:
            self.permits += 1

    def open(self) -> None:
        self.state, self.permits = GateState.OPEN, 0

    def limit(self, permits: int) -> None:
        self.state, self.permits, self.limit_to = GateState.LIMITED, permits, permits

    def shut(self) -> None:
        self.state, self.permits = GateState.SHUT, 0
