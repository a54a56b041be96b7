"""Find the reference data in shared/ (NAB, forecast-dev) relative to the checkout, or say where it looked."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def candidates() -> list[Path]:
    """Where shared/ may be, in order: $APEX_SHARED; a `shared` beside the checkout or any of its
    parents (/work/shared next to /work/main or /work/wt/<name>); beside the repository a CI
    clone was cloned from (its `origin` remote, when that is a local path); beside the main
    checkout of a git worktree (the common git dir's parent)."""
    found: list[Path] = []
    if os.environ.get("APEX_SHARED"):
        found.append(Path(os.environ["APEX_SHARED"]))
    found += [parent / "shared" for parent in ROOT.parents]
    origin = _git("remote", "get-url", "origin")
    if origin.startswith("file://"):
        origin = origin[len("file://") :]
    if origin and "://" not in origin and not origin.startswith("git@"):
        found += [parent / "shared" for parent in Path(origin).resolve().parents]
    common = _git("rev-parse", "--path-format=absolute", "--git-common-dir")
    if common:
        found += [parent / "shared" for parent in Path(common).resolve().parent.parents]
    unique: list[Path] = []
    for path in found:
        if path not in unique:
            unique.append(path)
    return unique


def shared_dir(relative: str) -> Path:
    """The directory shared/<relative>; AssertionError naming every place looked at when it is missing."""
    looked = candidates()
    for base in looked:
        if (base / relative).is_dir():
            return base / relative
    raise AssertionError(
        f"shared/{relative} not found (looked in {', '.join(str(p / relative) for p in looked)}); "
        "set APEX_SHARED to the directory holding data/"
    )
