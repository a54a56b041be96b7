"""Statuses the sidecar generates: a public message for the caller, the detail (addresses, exception text) in the log.

Callers of a mesh must not learn its internal addresses from an error (`ipv4:10.0.3.7:50051`).
A status the sidecar itself makes from a local failure therefore carries only a fixed message;
the detail goes to this module's logger at INFO, tagged with the call's trace id so an operator
can find it. Statuses the upstream sent pass through untouched (transparency).
"""

from __future__ import annotations

import logging

from sidecar.core.call import CallDescriptor, Code, Status

log = logging.getLogger("sidecar.errors")


def trace_id(call: CallDescriptor) -> str:
    """The call's trace id from `traceparent` (W3C) or `x-b3-traceid`, or "" when it has none."""
    value = call.header("traceparent")
    if isinstance(value, str):
        parts = value.split("-")
        if len(parts) >= 3 and len(parts[1]) == 32:
            return parts[1]
    value = call.header("x-b3-traceid")
    return value if isinstance(value, str) else ""


def hidden(call: CallDescriptor, code: Code, public: str, detail: str, *, level: int = logging.INFO) -> Status:
    """A status saying `public` to the caller; `detail` is logged (with the method and trace id) instead."""
    log.log(
        level,
        "%s: %s (%s)",
        public,
        detail,
        call.method,
        extra={"trace_id": trace_id(call), "method": call.method, "code": code.name, "detail": detail},
    )
    return Status(code, public)
