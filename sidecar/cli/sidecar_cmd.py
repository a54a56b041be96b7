"""`apex sidecar`: run a sidecar from a config file, or in one-line mode."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import os
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import uvloop
from apex.mesh.v1 import config_pb2

from sidecar.cli import env
from sidecar.cli.term import echo
from sidecar.config import bootstrap as bootstrap_file
from sidecar.policy.errors import ConfigError
from sidecar.policy.model import Bootstrap
from sidecar.telemetry import logs
from sidecar.telemetry.settings import level_name, observability

log = logging.getLogger("apex.sidecar")


def register(commands: Any) -> None:
    p: argparse.ArgumentParser = commands.add_parser(
        "sidecar",
        help="run a sidecar",
        description="Run a sidecar from --config FILE, or proxy --listen to --upstream (one-line mode). "
        "Flags default to environment variables: APEX_CONFIG, APEX_LISTEN, APEX_UPSTREAM, APEX_ADMIN, ...",
    )
    p.add_argument("--config", metavar="FILE", help="bootstrap YAML file")
    p.add_argument("--check", action="store_true", help="validate the config and exit")
    p.add_argument("--listen", metavar="HOST:PORT", help="one-line mode: address to accept calls on")
    p.add_argument("--upstream", metavar="HOST:PORT", help="one-line mode: where to send every call")
    p.add_argument("--admin", metavar="HOST:PORT", help="admin listener (overrides the config's)")
    p.add_argument(
        "--admin-token",
        metavar="env:NAME|file:PATH",
        help="where the admin listener's bearer token is (required to bind the admin anywhere but loopback, "
        "unless admin.mtls); overrides the config's admin.token",
    )
    p.add_argument("--service", metavar="NAME", help="service name this sidecar speaks for")
    p.add_argument("--control-plane", metavar="HOST:PORT", help="join this control plane (overrides the config's)")
    p.add_argument("--last-good", metavar="FILE", help="where to keep the last good pushed policy")
    p.add_argument("--ports-file", metavar="FILE", help="write the bound addresses as JSON once listening")
    p.add_argument("--redis", metavar="URL", help="publish telemetry windows to this Redis (sets telemetry.redis_url)")
    p.add_argument(
        "--log-level", default=os.environ.get("APEX_LOG_LEVEL"), help="overrides logging.level (default INFO)"
    )
    p.set_defaults(run=run)


def one_line_config(listen: str, upstream: str, service: str | None) -> config_pb2.Bootstrap:
    """The bootstrap for `--listen A --upstream B`: every call on A goes to B."""
    config = config_pb2.Bootstrap()
    config.node.service = service or "default"
    config.listeners.add(name="proxy", address=listen, direction=config_pb2.Listener.INBOUND)
    table = config.policy.route_tables.add(name="proxy")
    table.routes.add(name="all", cluster="upstream")
    config.policy.clusters.add(name="upstream").endpoints.add(address=upstream)
    return config


def load(args: argparse.Namespace) -> tuple[config_pb2.Bootstrap, Bootstrap, str]:
    env.apply(args)  # APEX_CONFIG, APEX_ADMIN, ... fill flags not given (see sidecar/cli/env.py)
    if args.config and (args.listen or args.upstream):
        raise SystemExit("apex sidecar: use either --config or --listen/--upstream, not both")
    if args.config:
        config = bootstrap_file.read(args.config)  # validated below, once the flags are applied
        source = args.config
    elif args.listen and args.upstream:
        config = one_line_config(args.listen, args.upstream, args.service)
        source = "command line"
    else:
        raise SystemExit("apex sidecar: give --config FILE, or both --listen HOST:PORT and --upstream HOST:PORT")
    if args.admin:
        config.admin.address = args.admin
    if getattr(args, "admin_token", None):
        kind, _, where = args.admin_token.partition(":")
        if kind not in ("env", "file") or not where:
            raise SystemExit("apex sidecar: --admin-token takes a reference, env:NAME or file:PATH, never the token")
        config.admin.token.CopyFrom(config_pb2.SecretRef(**{kind: where}))
    if args.service:
        config.node.service = args.service
    if args.control_plane:
        config.control_plane = args.control_plane
    if args.last_good:
        config.last_good_policy_file = args.last_good
    if args.redis:
        config.telemetry.redis_url = args.redis
    return config, bootstrap_file.validate(config, source), source


async def serve(config: config_pb2.Bootstrap, model: Bootstrap, source: str, ports_file: str | None) -> None:
    from sidecar.runtime.sidecar import Sidecar

    sidecar = Sidecar(config, model, source)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await sidecar.start()
    if source != "command line":
        loop.add_signal_handler(signal.SIGHUP, Reloader(sidecar, source).signal)
    bound = sidecar.bound_addresses()
    log.info("sidecar %s ready: %s", model.node.instance, json.dumps(bound))
    if ports_file:
        tmp = Path(ports_file + ".tmp")
        tmp.write_text(json.dumps(bound))
        tmp.replace(ports_file)  # atomic: readers never see a half-written file
    await stop.wait()
    log.info("shutting down: draining in-flight calls")
    await sidecar.stop(grace=5.0)


class Reloader:
    """SIGHUP: re-read the config file off the event loop and apply its policy; a bad file keeps the old one.

    Reading, parsing and validating run in a short-lived child process: a thread is not enough,
    since libyaml composes a whole document in one C call that holds the GIL (0.5-1 s for a
    1 MiB file), and the parse's peak memory stays out of the sidecar. Only the message and the
    validated model come back. A signal arriving during a reload queues one more.
    """

    def __init__(self, sidecar: Any, path: str) -> None:
        self.sidecar = sidecar
        self.path = path
        self._lock = asyncio.Lock()
        self.tasks: set[asyncio.Task[bool]] = set()

    def signal(self) -> None:
        task = asyncio.get_running_loop().create_task(self.reload())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def reload(self) -> bool:
        async with self._lock:
            return await self._reload()

    async def _reload(self) -> bool:
        sidecar, path = self.sidecar, self.path
        started = time.perf_counter()
        try:
            loaded = await load_detached(path)
            if loaded.error is not None or loaded.model is None:
                error = loaded.error or ConfigError("", "the config loader returned nothing", path)
                sidecar.rejected(error, loaded.version_hint)  # apply() reports its own rejections
                raise error
            config, model = config_pb2.Bootstrap.FromString(loaded.message), loaded.model
            parsed = time.perf_counter()
            if model.listeners != sidecar.bootstrap.listeners or model.admin != sidecar.bootstrap.admin:
                log.warning("reload of %s: listener/admin changes need a restart; applying the policy only", path)
            sidecar.apply(model.policy, config.policy)  # validated in the child; the message is for the dump
            applied = time.perf_counter()
        except ConfigError as exc:
            log.error("reload rejected, keeping policy version %r: %s", sidecar.policy.version, exc)
            return False
        except Exception as exc:  # never an "Exception in callback": the sidecar keeps serving
            log.exception("reload rejected, keeping policy version %r: %s: %s", sidecar.policy.version,
                          path, exc)  # fmt: skip
            return False
        log.info("reloaded policy version %r from %s (read and parsed in %.3fs off the event loop, applied in %.3fs)",
                 sidecar.policy.version, path, parsed - started, applied - parsed)  # fmt: skip
        return True


async def load_detached(path: str) -> bootstrap_file.Detached:
    """bootstrap.load(path) in a fresh (spawned, not forked: gRPC threads) child process."""
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    try:
        loaded: bootstrap_file.Detached = await asyncio.get_running_loop().run_in_executor(
            pool, bootstrap_file.load_detached, path
        )
    finally:
        pool.shutdown(wait=False)  # the child exits on its own; never block the loop on it
    return loaded


def run(args: argparse.Namespace) -> int:
    try:
        config, model, source = load(args)
        settings = observability(config)
        level = level_name(args.log_level, "--log-level") if args.log_level else settings.log_level
    except ConfigError as exc:
        echo(f"apex sidecar: invalid config: {exc}", file=sys.stderr)
        return 2
    logs.configure(level, settings.log_json)
    if args.check:
        echo(f"{source}: ok ({len(model.listeners)} listeners, {len(model.policy.clusters)} clusters)")
        return 0
    try:
        uvloop.run(serve(config, model, source, args.ports_file))
    except ConfigError as exc:  # a reference resolved at start (admin.token) that does not resolve
        echo(f"apex sidecar: invalid config: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        echo(f"apex sidecar: {exc}", file=sys.stderr)
        return 1
    return 0
