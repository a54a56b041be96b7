"""Run a CLI command that talks to Redis: unreachable Redis or a Redis error is one line, not a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable

from sidecar.cli.term import echo


def guard(name: str, url: str, body: Callable[[], int]) -> int:
    """`body()`, with Ctrl-C ending quietly and Redis failures reported as `apex <name>: …` (exit 1)."""
    try:
        return body()
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        raise  # the reader went away: main() ends quietly
    except OSError as exc:
        echo(f"apex {name}: cannot reach Redis at {url}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # redis.ConnectionError etc.: one line, no traceback
        if type(exc).__module__.startswith("redis"):
            echo(f"apex {name}: Redis error at {url}: {exc}", file=sys.stderr)
            return 1
        raise
