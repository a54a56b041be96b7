"""Structured logs: one JSON object per line, with trace_id/span_id when the record has them."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from apex.mesh.security.secrets import REDACTOR
from opentelemetry import trace

# Attributes every LogRecord has; anything else passed with `extra=` is copied into the JSON.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD:
                entry[key] = value if isinstance(value, str | int | float | bool) or value is None else str(value)
        if "trace_id" not in entry:
            context = trace.get_current_span().get_span_context()
            if context.is_valid:
                entry["trace_id"] = f"{context.trace_id:032x}"
                entry["span_id"] = f"{context.span_id:016x}"
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, separators=(",", ":"))


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that log whole header blocks at DEBUG (hpack's "Decoded (b'authorization', b'Bearer …')"):
# held at INFO whatever the root level, so credentials in metadata never reach a log line.
WIRE_LOGGERS = ("hpack", "h2")


def configure(level: str, json_lines: bool = True) -> None:
    """Send the root logger to stderr, one JSON object (or text line) per record, at `level`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(REDACTOR)  # secrets this process resolved never reach the log, at any level
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in WIRE_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLogger(name).level))


def set_level(level: str) -> str:
    """Change the root level at runtime; returns the level now in force."""
    logging.getLogger().setLevel(level)
    return current_level()


def current_level() -> str:
    return logging.getLevelName(logging.getLogger().level)
