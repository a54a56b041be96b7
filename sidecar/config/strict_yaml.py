"""Read a YAML config file strictly: a size limit, UTF-8, no duplicate keys, bounded nesting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sidecar.policy.errors import ConfigError
from sidecar.policy.limits import human

MAX_DEPTH = 64  # far deeper than any config; deep enough to never reject a real one
_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ~10x faster


class StrictLoader(_Base):
    """yaml.safe_load, but a key given twice in one mapping is an error (two `admin:` blocks)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # an unhashable key: the constructor reports it
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first given on line {first.line + 1})", key_node.start_mark
                )
            seen[key] = key_node.start_mark
        result: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return result


def _where(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark else "document"


def _check_depth(data: Any) -> None:
    """Iteratively (no recursion) refuse nesting deeper than MAX_DEPTH."""
    stack: list[tuple[Any, int, str]] = [(data, 0, "")]
    while stack:
        value, depth, path = stack.pop()
        if depth > MAX_DEPTH:
            raise ConfigError(path, f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            stack.extend((v, depth + 1, f"{path}.{k}" if path else str(k)) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, depth + 1, f"{path}[{i}]") for i, v in enumerate(value))


def loads(text: str) -> Any:
    """Parse YAML text; ConfigError (no source) naming line/column or path and the reason."""
    try:
        data = yaml.load(text, Loader=StrictLoader)
    except yaml.YAMLError as exc:
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(_where(exc), f"invalid YAML: {reason}") from None
    except RecursionError:
        raise ConfigError("document", f"invalid YAML: nested more than {MAX_DEPTH} levels deep") from None
    _check_depth(data)
    return data


def read(path: str | Path, limit: int) -> str:
    """The UTF-8 text of `path`; ConfigError naming the file when unreadable, too big or not UTF-8."""
    source = str(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(limit + 1)
    except OSError as exc:
        raise ConfigError("", f"cannot read config: {exc.strerror}", source) from None
    if len(raw) > limit:
        try:
            actual = Path(path).stat().st_size
            size = f"{actual} bytes ({human(actual)})"
        except OSError:
            size = f"over {limit} bytes"
        raise ConfigError(
            "", f"file is {size}, over the limit of {limit} bytes ({human(limit)}; APEX_MAX_CONFIG_BYTES)", source
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"line {line}", f"not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start}", source
        ) from None


def load_file(path: str | Path, limit: int) -> Any:
    """read() then loads(), errors attributed to the file."""
    text = read(path, limit)
    try:
        return loads(text)
    except ConfigError as exc:
        raise exc.in_source(str(path)) from None
