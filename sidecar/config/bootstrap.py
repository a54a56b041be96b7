"""Load a sidecar's bootstrap YAML file into protobuf, then into the validated model."""

from __future__ import annotations

from pathlib import Path

import yaml
from apex.mesh.v1 import config_pb2

from sidecar.config.yaml_proto import fill
from sidecar.policy import convert
from sidecar.policy.errors import ConfigError
from sidecar.policy.model import Bootstrap
from sidecar.telemetry.settings import observability


def parse_yaml(text: str, source: str) -> config_pb2.Bootstrap:
    """YAML text → Bootstrap protobuf; errors name `source`, the field path and the reason."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "document"
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(where, f"invalid YAML: {reason}", source) from None
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


def load(path: str | Path) -> tuple[config_pb2.Bootstrap, Bootstrap]:
    """Read, parse and validate a bootstrap file."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("", f"cannot read config: {exc.strerror}", source) from None
    message = parse_yaml(text, source)
    return message, validate(message, source)
