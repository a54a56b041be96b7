"""Checks shared by the policy conversions: required names, optional positive durations, match paths."""

from __future__ import annotations

from typing import Any, TypeVar

from apex.mesh.contract.names import name_problem

from sidecar.policy.errors import ConfigError

D = TypeVar("D", float, float | None)


def required_name(value: str, path: str, what: str) -> str:
    """A required name: present, and valid by the shared name rule (apex.mesh.contract.names)."""
    if not value:
        raise ConfigError(path, f"{what} is required")
    problem = name_problem(value)
    if problem is not None:
        raise ConfigError(path, f"{what} {problem}")
    return value


def positive_seconds(msg: Any, name: str, path: str, default: D) -> float | D:
    """Seconds of Duration field `name`, or `default` when unset; zero or negative is an error."""
    if not msg.HasField(name):
        return default
    value = float(getattr(msg, name).ToTimedelta().total_seconds())
    if value <= 0:
        raise ConfigError(f"{path}.{name}" if path else name, f"must be positive, got {value}s")
    return value


def check_path(kind: str | None, value: str, path: str) -> None:
    """A method / prefix / service match value must be well formed (kind None: no path match)."""
    if kind == "method" and (not value.startswith("/") or value.count("/") != 2 or value.endswith("/")):
        raise ConfigError(f"{path}.method", f"expected '/package.Service/Method', got {value!r}")
    if kind == "prefix" and not value.startswith("/"):
        raise ConfigError(f"{path}.prefix", f"a path prefix starts with '/', got {value!r}")
    if kind == "service" and (not value or "/" in value):
        raise ConfigError(f"{path}.service", f"expected a gRPC service name like 'pkg.Service', got {value!r}")
