"""Load a sidecar's bootstrap YAML file into protobuf, then into the validated model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from apex.mesh.v1 import config_pb2

from sidecar.config import strict_yaml
from sidecar.config.yaml_proto import fill
from sidecar.policy import convert, limits
from sidecar.policy.errors import ConfigError
from sidecar.policy.model import Bootstrap
from sidecar.telemetry.settings import observability


def parse_yaml(text: str, source: str) -> config_pb2.Bootstrap:
    """YAML text → Bootstrap protobuf; errors name `source`, the field path and the reason."""
    try:
        data = strict_yaml.loads(text)
    except ConfigError as exc:
        raise exc.in_source(source) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("", f"expected a mapping at the top level, got {type(data).__name__}", source)
    try:
        return fill(config_pb2.Bootstrap(), data)
    except ConfigError as exc:
        raise exc.in_source(source) from None


def validate(message: config_pb2.Bootstrap, source: str) -> Bootstrap:
    try:
        observability(message)  # tracing/metrics/logging/telemetry settings (fields 20-23)
        return convert.bootstrap(message)
    except ConfigError as exc:
        raise exc.in_source(source) from None


def read(path: str | Path, max_bytes: int | None = None) -> config_pb2.Bootstrap:
    """Read and parse a bootstrap file (at most `max_bytes`, default APEX_MAX_CONFIG_BYTES), not yet
    validated: command-line flags may still fill or override fields before validate()."""
    text = strict_yaml.read(path, limits.max_config_bytes() if max_bytes is None else max_bytes)
    return parse_yaml(text, str(path))


def load(path: str | Path, max_bytes: int | None = None) -> tuple[config_pb2.Bootstrap, Bootstrap]:
    """Read, parse and validate a bootstrap file.

    Blocking and CPU-bound: a running sidecar calls it in a child process (load_detached).
    """
    message = read(path, max_bytes)
    return message, validate(message, str(path))


@dataclass(frozen=True)
class Detached:
    """What load_detached() sends back from a child process: the result, or the error and the
    policy.version the bad file names ("" if none), for the rejection event."""

    message: bytes = b""
    model: Bootstrap | None = None
    error: ConfigError | None = None
    version_hint: str = ""


def load_detached(path: str) -> Detached:
    """load() for a child process (picklable result; all parsing, even of a bad file, stays there)."""
    try:
        message, model = load(path)
    except ConfigError as exc:
        return Detached(error=exc, version_hint=_version_hint(path))
    return Detached(message.SerializeToString(), model)


def _version_hint(path: str) -> str:
    try:
        data = strict_yaml.load_file(path, limits.max_config_bytes())
        return str(data["policy"]["version"])
    except Exception:
        return ""
