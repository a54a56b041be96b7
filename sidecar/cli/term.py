"""Terminal-safe text: control characters from remote data are escaped before they are printed."""

from __future__ import annotations

import logging
import re
import sys
from typing import TextIO

# C0 controls, DEL and C1 controls (ESC starts ANSI sequences; CR/BS rewrite what is shown).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(char, f"\\x{ord(char):02x}")


def safe(value: object) -> str:
    """One value (a name, a reason, a cell) with every control character escaped, newlines too."""
    return _CONTROL.sub(_escape, str(value))


def safe_lines(text: str) -> str:
    """Multi-line output with control characters escaped but its own line breaks kept."""
    return _CONTROL_BUT_NEWLINE.sub(_escape, text)


def echo(text: str, file: TextIO | None = None) -> None:
    """print() for output that may carry remote data."""
    print(safe_lines(text), file=file if file is not None else sys.stdout)


class SafeFormatter(logging.Formatter):
    """A logging formatter whose records cannot move the cursor or recolour the terminal."""

    def format(self, record: logging.LogRecord) -> str:
        return safe_lines(super().format(record))
