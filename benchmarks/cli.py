"""Command-line options of the latency suite, shared by `apex bench` and `python -m benchmarks`."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from benchmarks.suite import Options

# Kept here (not imported from benchmarks.suite) so `apex --help` does not load the suite.
PROFILE_NAMES = ("default", "quick", "tiny")
TARGET_NAMES = (
    "direct",
    "sidecar-out",
    "sidecar-out-h2",
    "sidecar-in",
    "mesh",
    "mesh-h2",
    "nginx",
    "haproxy",
    "sidecar-cache",
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--profile",
        choices=PROFILE_NAMES,
        default="default",
        help="default: a few minutes on 2 cores; quick: about a minute; tiny: seconds (tests)",
    )
    p.add_argument("--quick", action="store_const", const="quick", dest="profile", help="same as --profile quick")
    p.add_argument("--targets", metavar="A,B", help=f"subset of {','.join(TARGET_NAMES)}")
    p.add_argument("--workers", type=int, metavar="N", help="load-generator processes (default 2)")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="measured seconds per run (overrides profile)")
    p.add_argument(
        "--rounds", type=int, metavar="N", help="runs per case and target, interleaved; the least disturbed is kept"
    )
    p.add_argument("--out", default="benchmarks/results", metavar="DIR", help="results folder (default %(default)s)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument(
        "--cache-config",
        metavar="FILE",
        help="YAML merged into the cached sidecar's policy (default: a cache on Echo/Unary)",
    )


def options(args: argparse.Namespace, command: str) -> Options:
    from benchmarks.suite import Options

    opts = Options(
        profile=args.profile,
        workers=args.workers,
        duration=args.duration,
        rounds=args.rounds,
        out=Path(args.out),
        plots=not args.no_plots,
        command=command,
    )
    if args.targets:
        names = tuple(t.strip() for t in args.targets.split(",") if t.strip())
        unknown = [t for t in names if t not in TARGET_NAMES]
        if unknown:
            raise SystemExit(f"apex bench: unknown target(s) {unknown}")
        opts.targets = names
    if args.cache_config:
        loaded: Any = yaml.safe_load(Path(args.cache_config).read_text())
        if not isinstance(loaded, dict):
            raise SystemExit(f"apex bench: {args.cache_config}: expected a YAML mapping of policy fields")
        opts.cache_policy = loaded
    return opts


def run(args: argparse.Namespace, command: str | None = None) -> int:
    from benchmarks.checks import problems
    from benchmarks.suite import run_suite

    opts = options(args, command or shlex.join(["apex", "bench", *sys.argv[2:]]))
    result = run_suite(opts)
    files = result["files"]
    print(Path(files["markdown"]).read_text())
    print(f"results: {files['folder']} (report.json, report.md, {len(files['plots'])} plots)")
    found = problems(result)
    for problem in found:
        print(f"apex bench: {problem}", file=sys.stderr)
    return 1 if found else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description="Apex Mesh latency suite")
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run(args, shlex.join(["python", "-m", "benchmarks", *(sys.argv[1:] if argv is None else argv)]))
