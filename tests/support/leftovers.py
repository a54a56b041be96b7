"""Find processes a test's subprocess left behind, and the TCP ports they listened on (Linux /proc).

A test starts its subject with a marker variable in the environment (`tag_env`); every process
it starts inherits it, including double-forked or re-parented ones, so after the subject exits
`tagged` lists whatever it failed to stop, whatever its own bookkeeping says.
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
