"""Find processes a test's subprocess left behind, and the TCP ports they listened on (Linux /proc).

A test starts its subject with a marker variable in the environment (`tag_env`); every process
it starts inherits it, including double-forked or re-parented ones. Some programs overwrite their
environment block to set their process title (redis-server does), so while the subject runs the
test also records its process tree (`descendants`) with each process's start time; after the
subject exits, `still_running` tells which of them survive, whatever the subject's own
bookkeeping says.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

MARKER = "APEX_TEST_LEFTOVER_TAG"


def tag_env(env: dict[str, str] | None = None) -> tuple[dict[str, str], str]:
    """A copy of the environment carrying a fresh marker, and the marker."""
    tag = uuid.uuid4().hex
    return {**(env if env is not None else os.environ), MARKER: tag}, tag


def tagged(tag: str) -> dict[int, str]:
    """PID -> command line of every live process carrying the marker (zombies excluded)."""
    needle = f"{MARKER}={tag}".encode()
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
            if state == "Z":
                continue
            found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone meanwhile, or not ours
    return found


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` in the process tree (children of all its threads, recursively)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                kids = [int(p) for p in (task / "children").read_text().split()]
            except OSError:
                continue
            for kid in kids:
                if kid not in found:
                    found.add(kid)
                    todo.append(kid)
    return found


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of stat); None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return None if fields[0] == "Z" else int(fields[19])


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def still_running(seen: dict[int, tuple[int, str]]) -> dict[int, str]:
    """Of the processes recorded as pid -> (start time, command line), those still alive (the same
    process: a reused PID has another start time)."""
    return {pid: cmd for pid, (started, cmd) in seen.items() if start_time(pid) == started}


def _listening_inodes() -> dict[int, int]:
    """Socket inode -> port of every TCP socket in LISTEN state (IPv4 and IPv6)."""
    found: dict[int, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A":  # TCP_LISTEN
                found[int(fields[9])] = int(fields[1].rpartition(":")[2], 16)
    return found


def listening_ports(pids: set[int] | None = None) -> set[int]:
    """Ports in LISTEN state: all of them, or only those whose socket one of `pids` holds."""
    inodes = _listening_inodes()
    if pids is None:
        return set(inodes.values())
    ports: set[int] = set()
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inode = int(target[8:-1])
                if inode in inodes:
                    ports.add(inodes[inode])
    return ports
