"""Terminal-safe text: control characters from remote data are escaped before they are printed."""

from __future__ import annotations

import logging
import sys
from typing import TextIO


def _escape(text: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def safe(value: object) -> str:
    """One value (a name, a reason, a cell) with every non-printable character escaped: C0/C1
    controls (ESC starts ANSI sequences; CR and BS rewrite what is shown), newlines, bidi controls."""
    text = str(value)
    return text if text.isprintable() else _escape(text)


def safe_lines(text: str) -> str:
    """Multi-line output escaped like safe(), keeping its own line breaks."""
    return "\n".join(safe(line) for line in text.split("\n"))


def echo(text: str, file: TextIO | None = None) -> None:
    """print() for output that may carry remote data."""
    print(safe_lines(text), file=file if file is not None else sys.stdout)


class SafeFormatter(logging.Formatter):
    """A logging formatter whose records cannot move the cursor or recolour the terminal."""

    def format(self, record: logging.LogRecord) -> str:
        return safe_lines(super().format(record))
