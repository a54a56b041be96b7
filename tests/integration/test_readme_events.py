"""The README's event-bus example runs as written against a real Redis (docs cannot drift from the API)."""

from __future__ import annotations

import asyncio
import re
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
README = Path(__file__).resolve().parents[2] / "README.md"


def example() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Events: the event bus")
    section = text[start : text.index("\n## ", start + 1)]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block is not None, "no python example in the README's events section"
    return block.group(1)


def test_readme_event_bus_example_runs(redis_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = example().replace("redis://127.0.0.1:6379/0", redis_url)
    namespace: dict[str, object] = {}
    exec("async def main():\n" + textwrap.indent(code, "    "), namespace)  # top-level awaits, as in a notebook
    asyncio.run(namespace["main"]())  # type: ignore[operator]
    printed = capsys.readouterr().out.splitlines()
    assert "service.health_degraded incident-42 1" in printed
