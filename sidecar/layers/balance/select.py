"""Which endpoints a balancer may pick from: the available ones, or all of them in panic mode."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from sidecar.layers.balance.load import EndpointLoad

T = TypeVar("T")


class Balancer(Protocol):
    def pick(self, candidates: Sequence[EndpointLoad], now: float) -> EndpointLoad | None: ...


def candidates(endpoints: Sequence[T], available: Callable[[T], bool], panic_threshold: float) -> tuple[list[T], bool]:
    """(the endpoints to balance over, whether in panic mode).

    Envoy's panic threshold: when the available share is below `panic_threshold` percent,
    ejection and health are ignored and calls spread over every endpoint, so a cluster
    that looks mostly broken is not squeezed into its last few endpoints (or none).
    """
    if not endpoints:
        return [], False
    ok = [e for e in endpoints if available(e)]
    if len(ok) == len(endpoints):
        return ok, False
    if 100.0 * len(ok) / len(endpoints) < panic_threshold:
        return list(endpoints), True
    return ok, False  # panic_threshold 0 turns panic mode off: no available endpoint, no pick
