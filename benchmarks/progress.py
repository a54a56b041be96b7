"""A one-line progress bar for the latency suite, on stderr."""

from __future__ import annotations

import sys
import time
from typing import Any


class Progress:
    """A one-line progress bar on stderr (one line per step when stderr is not a terminal)."""

    def __init__(self, total: int, stream: Any = None) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.started = time.monotonic()
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def step(self, text: str, *, force: bool = False) -> None:
        if not (self.tty or force):
            return
        filled = int(30 * self.done / self.total)
        elapsed = time.monotonic() - self.started
        line = f"[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} {elapsed:5.0f}s  {text}"
        if self.tty:
            self.stream.write("\r\033[K" + line[:150])
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def advance(self, text: str = "") -> None:
        self.done += 1
        self.step(text, force=True)

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
