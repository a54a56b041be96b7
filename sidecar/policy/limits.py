"""Size limits on configuration input, read from the environment once (documented in the README).

APEX_MAX_CONFIG_BYTES  largest bootstrap / policy YAML file read (default 1 MiB)
APEX_MAX_POLICY_BYTES  largest policy accepted (encoded protobuf size): from a file, a control-plane
                       push, or `apex policy set`; the control plane stores nothing larger (default 1 MiB)
Values are bytes, or a number with a KiB / MiB suffix.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from sidecar.policy.errors import ConfigError

MIB = 1 << 20
DEFAULT_MAX_CONFIG_BYTES = MIB
DEFAULT_MAX_POLICY_BYTES = MIB
CONFIG_ENV = "APEX_MAX_CONFIG_BYTES"
POLICY_ENV = "APEX_MAX_POLICY_BYTES"
_SIZE = re.compile(r"^\s*(\d+)\s*(B|KiB|MiB)?\s*$")
_UNITS = {None: 1, "B": 1, "KiB": 1 << 10, "MiB": MIB}


def parse_size(text: str, what: str) -> int:
    """Bytes from '1048576', '512KiB' or '4MiB' (at least 1 KiB, at most 1 GiB)."""
    m = _SIZE.match(text)
    if m is None:
        raise ConfigError(what, f"expected a size like 1048576, 512KiB or 4MiB, got {text!r}")
    size = int(m.group(1)) * _UNITS[m.group(2)]
    if not 1024 <= size <= 1 << 30:
        raise ConfigError(what, f"{text!r} is outside 1KiB..1024MiB")
    return size


def _from_env(variable: str, default: int, environ: Mapping[str, str] | None) -> int:
    value = (os.environ if environ is None else environ).get(variable, "").strip()
    return parse_size(value, variable) if value else default


def max_config_bytes(environ: Mapping[str, str] | None = None) -> int:
    return _from_env(CONFIG_ENV, DEFAULT_MAX_CONFIG_BYTES, environ)


def max_policy_bytes(environ: Mapping[str, str] | None = None) -> int:
    return _from_env(POLICY_ENV, DEFAULT_MAX_POLICY_BYTES, environ)


def human(size: int) -> str:
    """1048576 -> '1 MiB', 1536 -> '1.5 KiB', 900 -> '900 bytes'."""
    for unit, scale in (("MiB", MIB), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.4g} {unit}"
    return f"{size} bytes"
