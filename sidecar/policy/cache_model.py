"""Frozen dataclasses for the response cache policy (rules) and the per-sidecar bounds."""

from __future__ import annotations

import enum
from dataclasses import dataclass

DEFAULT_MAX_ENTRIES = 10_000
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_ENTRY_BYTES = 1024 * 1024


class CacheMatch(enum.Enum):
    METHOD = "method"  # exact "/pkg.Service/Method"
    SERVICE = "service"  # "pkg.Service"
    PREFIX = "prefix"  # path prefix


@dataclass(frozen=True, slots=True)
class CacheRule:
    name: str
    match: CacheMatch
    path: str
    ttl: float
    vary: tuple[str, ...] = ()
    stale_while_revalidate: float = 0.0
    stale_if_error: float = 0.0
    listeners: tuple[str, ...] = ()  # empty: every listener
    enforced: bool = True
    shareable: bool = False  # one entry for every caller; else the key holds the caller's identity

    def matches(self, method: str) -> bool:
        """True when this rule covers `method` ("/pkg.Service/Method")."""
        if self.match is CacheMatch.METHOD:
            return method == self.path
        if self.match is CacheMatch.PREFIX:
            return method.startswith(self.path)
        return method[1:].rpartition("/")[0] == self.path

    def applies_to(self, listener: str) -> bool:
        return not self.listeners or listener in self.listeners


@dataclass(frozen=True, slots=True)
class CacheBounds:
    max_entries: int = DEFAULT_MAX_ENTRIES
    max_bytes: int = DEFAULT_MAX_BYTES
    max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES


def rule_for(rules: tuple[CacheRule, ...], method: str) -> CacheRule | None:
    """The first rule covering `method`, or None."""
    for rule in rules:
        if rule.matches(method):
            return rule
    return None
