"""Smooth weighted round robin (nginx): interleaves picks in proportion to endpoint weights."""

from __future__ import annotations

from collections.abc import Sequence

from sidecar.layers.balance.load import EndpointLoad


class SmoothWeighted:
    """Each pick: every candidate gains its weight; the richest is picked and pays the total.

    With weights a:5, b:1, c:1 the sequence is a a b a c a a, never five a's in a row.
    Candidates may change between picks; the running credit is kept per address.
    """

    __slots__ = ("_credit",)

    def __init__(self) -> None:
        self._credit: dict[str, int] = {}

    def pick(self, candidates: Sequence[EndpointLoad], now: float) -> EndpointLoad | None:
        if not candidates:
            return None
        credit = self._credit
        if len(credit) > 4 * len(candidates) + 16:  # forget endpoints gone for good
            live = {c.address for c in candidates}
            self._credit = credit = {a: v for a, v in credit.items() if a in live}
        best: EndpointLoad | None = None
        best_credit = 0
        total = 0
        for candidate in candidates:
            value = credit.get(candidate.address, 0) + candidate.weight
            credit[candidate.address] = value
            total += candidate.weight
            if best is None or value > best_credit:
                best, best_credit = candidate, value
        assert best is not None
        credit[best.address] = best_credit - total
        return best
