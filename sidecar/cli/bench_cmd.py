"""`apex bench`: run the latency suite (benchmarks/) — imported only when the command runs."""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: Any) -> None:
    p: argparse.ArgumentParser = commands.add_parser(
        "bench",
        help="run the latency benchmark suite",
        description="Measure latency, throughput, CPU per call and peak RSS: direct, through one and two "
        "sidecars, and through nginx / HAProxy when installed. Writes JSON, markdown and PNG plots.",
    )
    try:
        from benchmarks.cli import add_arguments
    except ImportError:  # installed without the benchmarks package (e.g. the sidecar image)
        p.set_defaults(run=_missing)
        return
    add_arguments(p)
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from benchmarks.cli import run

    return run(args)


def _missing(args: argparse.Namespace) -> int:
    print("apex bench: the benchmarks package is not installed here (run it from a source checkout)")
    return 2
