"""Validated conversion of the cache protobuf config (cache.proto) into the cache model."""

from __future__ import annotations

from collections.abc import Iterable

from apex.mesh.v1 import cache_pb2
from google.protobuf.duration_pb2 import Duration

from sidecar.policy.cache_model import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ENTRIES,
    DEFAULT_MAX_ENTRY_BYTES,
    CacheBounds,
    CacheMatch,
    CacheRule,
)
from sidecar.policy.errors import ConfigError
from sidecar.policy.fields import check_path

MAX_TTL = 365 * 24 * 3600.0  # a year: anything longer is a typo


def _seconds(value: Duration, path: str, *, positive: bool) -> float:
    seconds = value.ToTimedelta().total_seconds()
    if seconds < 0 or (positive and seconds == 0):
        raise ConfigError(path, f"must be {'positive' if positive else 'zero or more'}, got {seconds}s")
    if seconds > MAX_TTL:
        raise ConfigError(path, f"{seconds}s is longer than the maximum of one year")
    return float(seconds)


def _keys(values: Iterable[str], path: str, what: str) -> tuple[str, ...]:
    seen: list[str] = []
    for i, key in enumerate(values):
        if not key:
            raise ConfigError(f"{path}[{i}]", f"{what} must not be empty")
        if key != key.lower() or key.startswith(":") or " " in key:
            raise ConfigError(f"{path}[{i}]", f"{what} must be a lower-case metadata key, got {key!r}")
        if key in seen:
            raise ConfigError(f"{path}[{i}]", f"duplicate {what} {key!r}")
        seen.append(key)
    return tuple(seen)


def rule(msg: cache_pb2.CacheRule, path: str) -> CacheRule:
    kind = msg.WhichOneof("match")
    if kind is None:
        raise ConfigError(path, "one of method, service or prefix is required")
    value: str = getattr(msg, kind)
    check_path(kind, value, path)
    if not msg.HasField("ttl"):
        raise ConfigError(f"{path}.ttl", "ttl is required (how long a response stays fresh)")
    vary = _keys(msg.vary, f"{path}.vary", "vary key")
    listeners = tuple(msg.listeners)
    for i, name in enumerate(listeners):
        if not name:
            raise ConfigError(f"{path}.listeners[{i}]", "listener name must not be empty")
    return CacheRule(
        name=msg.name or f"{kind}:{value}",
        match=CacheMatch(kind),
        path=value,
        ttl=_seconds(msg.ttl, f"{path}.ttl", positive=True),
        vary=vary,
        stale_while_revalidate=_seconds(msg.stale_while_revalidate, f"{path}.stale_while_revalidate", positive=False),
        stale_if_error=_seconds(msg.stale_if_error, f"{path}.stale_if_error", positive=False),
        listeners=listeners,
        enforced=msg.enforced if msg.HasField("enforced") else True,
        shareable=msg.shareable,
    )


def rules(msgs: Iterable[cache_pb2.CacheRule], path: str = "policy.cache") -> tuple[CacheRule, ...]:
    """Validate Policy.cache; rule names must be unique."""
    result: list[CacheRule] = []
    for i, msg in enumerate(msgs):
        converted = rule(msg, f"{path}[{i}]")
        if any(r.name == converted.name for r in result):
            raise ConfigError(f"{path}[{i}].name", f"duplicate cache rule name {converted.name!r}")
        result.append(converted)
    return tuple(result)


def bounds(msg: cache_pb2.CacheBounds, path: str = "cache") -> CacheBounds:
    """Validate Bootstrap.cache; zero fields take the defaults."""
    max_entries = msg.max_entries or DEFAULT_MAX_ENTRIES
    max_bytes = msg.max_bytes or DEFAULT_MAX_BYTES
    max_entry_bytes = msg.max_entry_bytes or min(DEFAULT_MAX_ENTRY_BYTES, max_bytes)
    if max_entry_bytes > max_bytes:
        raise ConfigError(f"{path}.max_entry_bytes", f"{max_entry_bytes} is above max_bytes ({max_bytes})")
    return CacheBounds(max_entries=max_entries, max_bytes=max_bytes, max_entry_bytes=max_entry_bytes)
