"""Which telemetry windows were counted already: (service, instance, sequence), the newest `size` remembered.

A redelivered entry (a restart re-reading its pending entries, a claim of a dead peer's) carries a
window already counted; both engines count each window once by asking here first.
"""

from __future__ import annotations

from collections import OrderedDict


class Seen:
    def __init__(self, size: int = 100_000) -> None:
        self._keys: OrderedDict[tuple[str, str, int], None] = OrderedDict()
        self._size = size
        self.duplicates = 0

    def again(self, service: str, instance: str, sequence: int) -> bool:
        """Record a window; True when it was already counted (and is counted as a duplicate)."""
        key = (service, instance, sequence)
        if key in self._keys:
            self.duplicates += 1
            return True
        self._keys[key] = None
        if len(self._keys) > self._size:
            self._keys.popitem(last=False)  # the oldest: a window that old is not redelivered any more
        return False
