"""Checks shared by the policy conversions: optional positive durations."""

from __future__ import annotations

from typing import Any, TypeVar

from sidecar.policy.errors import ConfigError

D = TypeVar("D", float, float | None)


def positive_seconds(msg: Any, name: str, path: str, default: D) -> float | D:
    """Seconds of Duration field `name`, or `default` when unset; zero or negative is an error."""
    if not msg.HasField(name):
        return default
    value = float(getattr(msg, name).ToTimedelta().total_seconds())
    if value <= 0:
        raise ConfigError(f"{path}.{name}" if path else name, f"must be positive, got {value}s")
    return value
