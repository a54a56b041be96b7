"""Plain round robin over a cluster's current endpoints."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


class RoundRobin:
    """Cycle through endpoints in order; the list may change between picks."""

    __slots__ = ("_next",)

    def __init__(self, start: int = 0) -> None:
        self._next = start

    def pick(self, endpoints: Sequence[T]) -> T | None:
        if not endpoints:
            return None
        index = self._next % len(endpoints)
        self._next = index + 1
        return endpoints[index]
