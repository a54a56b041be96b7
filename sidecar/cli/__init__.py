"""The `apex` command line: one module per command group."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole `apex` parser; with `only="sidecar"`, just that command's (the sidecar process then
    never imports the other commands' libraries: redis alone is ~12 MB of a sidecar's RSS)."""
    parser = argparse.ArgumentParser(prog="apex", description="Apex Mesh: a self-tuning gRPC service mesh.")
    parser.add_argument("--version", action=_Version)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    if only == "sidecar":
        from sidecar.cli import sidecar_cmd

        sidecar_cmd.register(commands)
        return parser
    _register_all(commands)
    return parser


def _register_all(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from sidecar.cli import (
        admin_cmd,
        bench_cmd,
        ca_cmd,
        cache_cmd,
        clusters_cmd,
        completion_cmd,
        control_cmd,
        demo_cmd,
        eval_cmd,
        events_cmd,
        forecast_cmd,
        policy_cmd,
        routes_cmd,
        sidecar_cmd,
        stat_cmd,
        telemetry_cmd,
        tune_cmd,
        tuner_cmd,
    )

    sidecar_cmd.register(commands)
    admin_cmd.register(commands)
    demo_cmd.register(commands)
    cache_cmd.register(commands)
    routes_cmd.register(commands)
    clusters_cmd.register(commands)
    control_cmd.register(commands)
    policy_cmd.register(commands)
    bench_cmd.register(commands)
    telemetry_cmd.register(commands)
    forecast_cmd.register(commands)
    eval_cmd.register(commands)
    events_cmd.register(commands)
    stat_cmd.register(commands)
    tune_cmd.register(commands)
    tuner_cmd.register(commands)
    completion_cmd.register(commands)
    ca_cmd.register(commands)


class _Version(argparse.Action):
    """`--version`, its version looked up only when asked: importlib.metadata takes ~0.1 s, at every start
    of every `apex` process (each sidecar, control plane and engine) if the parser is built with it."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="show the version and exit")  # fmt: skip

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(f"apex {_version()}")
        parser.exit()


def _version() -> str:
    """The installed distribution's version (sidecar.__version__ when run from a bare checkout)."""
    from importlib import metadata

    try:
        return metadata.version("apex-mesh")
    except metadata.PackageNotFoundError:
        from sidecar import __version__

        return __version__


def main(argv: Sequence[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else list(argv)
    args = build_parser("sidecar" if given[:1] == ["sidecar"] else None).parse_args(given)
    try:
        result: int = args.run(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`apex policy history | head`): stop quietly, like other CLI tools.
        # Point stdout at devnull so the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a command killed by SIGPIPE
    return result


if __name__ == "__main__":
    sys.exit(main())
