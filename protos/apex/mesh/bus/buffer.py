"""A bounded in-memory buffer (pure) for events that could not be published yet, oldest first.

When full, it makes room by dropping the oldest buffered event of the lowest priority, if that
priority is not above the newcomer's; otherwise the newcomer is dropped. Either way the drop is
counted (in total and per priority): a CRITICAL event is never dropped to keep a LOW one.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Pending:
    priority: int
    fields: dict[bytes, bytes]


@dataclass
class OfflineBuffer:
    capacity: int
    items: deque[Pending] = field(default_factory=deque)
    dropped: int = 0
    dropped_by_priority: Counter[int] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise ValueError(f"buffer capacity must be at least 1, got {self.capacity}")

    def __len__(self) -> int:
        return len(self.items)

    def put(self, priority: int, fields: dict[bytes, bytes]) -> bool:
        """Buffer an event; False when it was the one dropped."""
        if len(self.items) >= self.capacity:
            lowest, victim = min(enumerate(p.priority for p in self.items), key=lambda ip: (ip[1], ip[0]))
            if victim > priority:
                self._count_drop(priority)
                return False
            del self.items[lowest]
            self._count_drop(victim)
        self.items.append(Pending(priority, fields))
        return True

    def peek(self) -> Pending | None:
        return self.items[0] if self.items else None

    def pop(self) -> Pending:
        """Remove the oldest event (after it was sent)."""
        return self.items.popleft()

    def _count_drop(self, priority: int) -> None:
        self.dropped += 1
        self.dropped_by_priority[priority] += 1
