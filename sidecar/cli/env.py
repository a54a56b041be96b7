"""Environment variables as defaults for `apex sidecar` flags (containers configure by env and file).

Precedence: a flag on the command line, then its environment variable, then the config file.
A variable maps to a flag only when that flag exists in this build (e.g. APEX_REDIS_URL → --redis
arrives with telemetry), so the table can name flags other command modules add.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping

SIDECAR_ENV = {
    "config": "APEX_CONFIG",
    "listen": "APEX_LISTEN",
    "upstream": "APEX_UPSTREAM",
    "admin": "APEX_ADMIN",
    "admin_token": "APEX_ADMIN_TOKEN_REF",
    "service": "APEX_SERVICE",
    "ports_file": "APEX_PORTS_FILE",
    "redis": "APEX_REDIS_URL",
    "control_plane": "APEX_CONTROL_PLANE",
}


def apply(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Fill unset flags from the environment, in place; return {flag: variable} for what was taken."""
    environ = os.environ if environ is None else environ
    taken = {}
    for flag, variable in SIDECAR_ENV.items():
        value = environ.get(variable, "").strip()
        if value and hasattr(args, flag) and getattr(args, flag) in (None, ""):
            setattr(args, flag, value)
            taken[flag] = variable
    return taken
