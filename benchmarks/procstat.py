"""CPU time and peak RSS of processes, read from /proc/<pid>/stat and /proc/<pid>/status (Linux)."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Usage:
    cpu_s: float  # user + system CPU seconds so far
    peak_rss_kb: int  # VmHWM: the resident-set high-water mark
    rss_kb: int


def usage(pid: int) -> Usage | None:
    """CPU seconds and memory of one process; None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    # fields after the parenthesised command name (which may hold spaces): utime is field 14, stime 15
    fields = stat.rpartition(")")[2].split()
    cpu = (int(fields[11]) + int(fields[12])) / _TICKS
    memory = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            memory[key] = int(value.split()[0])
    return Usage(cpu, memory.get("VmHWM", 0), memory.get("VmRSS", 0))


def children(pid: int) -> list[int]:
    """Direct child PIDs (nginx workers under their master)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.extend(int(p) for p in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine(tools: dict[str, str | None] | None = None) -> dict[str, Any]:
    """What the figures were measured on: cores, CPU model, memory, load, Python and library versions."""
    try:
        mem_kb = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
    except (OSError, IndexError, ValueError):
        mem_kb = 0
    libraries = {d: _version(d) for d in ("grpcio", "protobuf", "uvloop", "apex-mesh", "matplotlib", "numpy")}
    return {
        "cores": os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "libraries": libraries,
        "tools": tools or {},
    }
