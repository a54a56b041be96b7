"""Plant each bug of issue 16 in a temporary copy of the tree and check that the named tests fail.

    .venv/bin/python tests/mutations/run.py              # every mutation
    .venv/bin/python tests/mutations/run.py NAME ...     # some of them (see --list)
    .venv/bin/python tests/mutations/run.py --baseline   # the same tests on the unmutated copy (must pass)

Each mutation edits files of a copy (git's tracked and untracked-but-not-ignored files) made
under a temporary directory, then runs its tests there with this checkout's virtualenv, with
PYTHONPATH pointing at the copy so the sidecar subprocesses run the mutated code too. A mutation
is *caught* when pytest fails; the failing tests are listed. An edit that no longer applies
(the code moved on) is reported as STALE: update its `old` text in tests/mutations/catalog.py.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.mutations.catalog import MUTATIONS, Edit, Mutation
from tests.support.shared_data import shared_dir

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"


class Stale(Exception):
    """The edit's text is no longer in the file."""


def copy_tree(dest: Path) -> None:
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in listed:
        if not raw:
            continue
        rel = raw.decode()
        src = ROOT / rel
        if not src.is_file():
            continue  # deleted in the working tree
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel)


def apply(edit: Edit, tree: Path) -> None:
    path = tree / edit.path
    if edit.delete:
        if not path.exists():
            raise Stale(f"{edit.path}: nothing to delete")
        shutil.rmtree(path) if path.is_dir() else path.unlink()
        return
    text = path.read_text()
    if edit.regex:
        new, n = re.subn(edit.old, edit.new, text, flags=re.MULTILINE)
    else:
        n = text.count(edit.old)
        new = text.replace(edit.old, edit.new)
    if n != 1:
        raise Stale(f"{edit.path}: {edit.old!r} found {n} times (expected once)")
    path.write_text(new)


def run_one(mutation: Mutation, baseline: bool, verbose: bool) -> tuple[str, list[str], float]:
    """('caught' | 'MISSED' | 'STALE' | 'pass' | 'FAIL', failing tests, seconds)."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"apex-mutant-{mutation.name}-") as tmp:
        tree = Path(tmp)
        copy_tree(tree)
        if not baseline:
            try:
                for edit in mutation.edits:
                    apply(edit, tree)
            except Stale as exc:
                return f"STALE ({exc})", [], time.monotonic() - started
        env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{tree / 'protos'}"}
        env.setdefault("APEX_SHARED", str(shared_dir("data").parent))  # the copy is not beside shared/
        if not baseline:
            env.update(mutation.env)
        cmd = [str(PYTHON), "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", "-rf", "--maxfail=5"]
        done = subprocess.run([*cmd, *mutation.tests], cwd=tree, env=env, capture_output=True, text=True)
        out = done.stdout + done.stderr
        if verbose:
            print(out)
        failed = sorted({line.split()[1] for line in out.splitlines() if line.startswith(("FAILED ", "ERROR "))})
        if baseline:
            verdict = "pass" if done.returncode == 0 else "FAIL"
        else:
            verdict = "caught" if done.returncode != 0 else "MISSED"
        if done.returncode not in (0, 1) and not failed:
            failed = [f"pytest exit {done.returncode}: {out.strip().splitlines()[-1] if out.strip() else ''}"]
        return verdict, failed, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="mutations to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutations and their tests")
    parser.add_argument("--baseline", action="store_true", help="run the tests without the bug (must pass)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print pytest's output")
    args = parser.parse_args()
    chosen = [m for m in MUTATIONS if not args.names or m.name in args.names]
    unknown = set(args.names) - {m.name for m in MUTATIONS}
    if unknown:
        parser.error(f"unknown mutation(s): {sorted(unknown)}")
    if args.list:
        for m in chosen:
            print(f"{m.name}  [issue 16 point {m.point}]  {m.bug}\n    tests: {' '.join(m.tests)}")
        return 0
    bad = 0
    for m in chosen:
        verdict, failed, seconds = run_one(m, args.baseline, args.verbose)
        good = verdict in ("caught", "pass")
        bad += not good
        print(f"{'ok ' if good else '!! '} {m.name}: {verdict} in {seconds:.0f}s — {m.bug}", flush=True)
        for test in failed:
            print(f"      {test}", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
