"""`apex control-plane`: run a control-plane replica (registry, policy store in Redis, pushes)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import uvloop

from sidecar.cli.term import SafeFormatter, echo, safe
from sidecar.config.yaml_proto import parse_duration
from sidecar.policy import limits
from sidecar.policy.errors import ConfigError

log = logging.getLogger("apex.control_plane")

DEFAULT_LISTEN = "127.0.0.1:7700"


def register(commands: Any) -> None:
    p: argparse.ArgumentParser = commands.add_parser(
        "control-plane",
        help="run a control-plane replica",
        description="Serve ControlPlane (sidecar streams) and PolicyAdmin over a policy store in Redis. "
        "Run several replicas against one Redis to scale out.",
    )
    p.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT", help=f"default {DEFAULT_LISTEN}")
    p.add_argument(
        "--redis",
        default=os.environ.get("APEX_REDIS_URL", "redis://127.0.0.1:6379/0"),
        metavar="URL|env:NAME|file:PATH",
        help="policy store and registry (default $APEX_REDIS_URL or redis://127.0.0.1:6379/0); a URL with a "
        "password belongs in env:NAME or file:PATH so it never shows in `ps`",
    )
    p.add_argument(
        "--auth",
        default=os.environ.get("APEX_AUTH_FILE", ""),
        metavar="FILE",
        help="tokens file: join tokens per service, operator and engine tokens, as secret references "
        "(docs/security.md); required unless --insecure",
    )
    p.add_argument(
        "--insecure",
        action="store_true",
        help="accept every sidecar and operator without authentication (a local demo only; says so loudly)",
    )
    p.add_argument("--ca-dir", default="", metavar="DIR", help="run the mesh CA with its root keys in DIR (0700)")
    p.add_argument(
        "--ca-store",
        action="store_true",
        help="run the mesh CA shared by every replica on this Redis: created by the first replica, sealed with "
        "--secret-key (required), rotations reach every replica's sidecars. With --ca-dir too, that directory's CA "
        "is moved into the store when the store holds none",
    )
    p.add_argument(
        "--mtls-listen",
        default="",
        metavar="HOST:PORT",
        help="with --ca-dir or --ca-store, and --auth: the port where sidecars holding a workload certificate "
        "reconnect "
        "and present it (default: --listen's host, port 0; sidecars learn the port on their stream)",
    )
    p.add_argument(
        "--instance-lease",
        default="10s",
        help="an instance id bound to a certificate stays its own this long after its last heartbeat (10s)",
    )
    p.add_argument(
        "--secret-key",
        default=os.environ.get("APEX_SECRET_KEY_REF", ""),
        metavar="env:NAME|file:PATH",
        help="AES-256 key (base64 or hex) sealing the secrets this control plane stores (the CA's root keys) "
        "with AES-GCM; by reference only (default $APEX_SECRET_KEY_REF). Without it they are stored in clear, 0600",
    )
    p.add_argument("--trust-domain", default="cluster.local", help="the mesh CA's trust domain (cluster.local)")
    p.add_argument("--namespace", default="default", help="namespace of the SPIFFE IDs the CA issues (default)")
    p.add_argument("--certificate-ttl", default="24h", help="the longest workload certificate the CA issues (24h)")
    p.add_argument(
        "--prefix",
        help="Redis key prefix (default apex:cp:, or {apex:cp}: with a redis+cluster:// URL: on a Redis Cluster "
        "the prefix needs a hash tag so the store's keys share one slot)",
    )
    p.add_argument("--replica", default="", help="name of this replica (default cp-<random>)")
    p.add_argument("--stale-after", default="3s", help="unhealthy after this long without a heartbeat (3s)")
    p.add_argument("--remove-after", default="30s", help="removed from the registry after this silence (30s)")
    p.add_argument("--ports-file", metavar="FILE", help="write the bound address as JSON once listening")
    p.add_argument(
        "--max-policy-bytes",
        default=os.environ.get(limits.POLICY_ENV, ""),
        metavar="SIZE",
        help="refuse to store larger policies, e.g. 1048576 or 2MiB (default $APEX_MAX_POLICY_BYTES or 1MiB)",
    )
    p.add_argument(
        "--keep-versions",
        type=_keep,
        default=0,
        metavar="N",
        help="keep the policy of the newest N versions per service (and always the live one); older "
        "versions keep only their audit record. Default 0: keep every version",
    )
    p.add_argument("--log-level", default=os.environ.get("APEX_LOG_LEVEL", "INFO"), help="default INFO")
    p.set_defaults(run=run)

    status = commands.add_parser(
        "control-status",
        help="a sidecar's view of its control plane: connected, policy in force, last NACK",
        description="Ask one sidecar (its admin listener) about its control-plane stream: whether it is "
        "connected and to which replica, the policy version it applied, and the last version it "
        "rejected (NACK) with the field and reason.",
    )
    status.add_argument(
        "--admin",
        default=os.environ.get("APEX_ADMIN", "127.0.0.1:9901"),
        metavar="HOST:PORT",
        help="the sidecar's admin address (default $APEX_ADMIN or 127.0.0.1:9901)",
    )
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(run=run_status)


def _keep(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of versions, got {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (keep all) or more, got {n}")
    return n


def run_status(args: argparse.Namespace) -> int:
    import grpc
    from apex.mesh.v1 import control_pb2, control_pb2_grpc
    from google.protobuf import json_format

    from sidecar.cli.admin_channel import admin_channel

    with admin_channel(args.admin) as channel:
        try:
            reply = control_pb2_grpc.SidecarControlStub(channel).GetControlStatus(
                control_pb2.GetControlStatusRequest(), timeout=5
            )
        except grpc.RpcError as err:
            echo(f"apex control-status: {args.admin}: {err.code().name}: {err.details()}", file=sys.stderr)
            return 1
    if args.json:
        echo(json_format.MessageToJson(reply, preserving_proto_field_name=True, indent=2))
        return 0
    if not reply.control_plane:
        echo(f"no control plane configured; policy version {reply.policy_version or '-'} (static)")
        return 0
    state = "connected" if reply.connected else "NOT connected (serving the policy in force)"
    echo(f"control plane:  {reply.control_plane} ({state}, {reply.connects} connects)")
    echo(f"policy version: {safe(reply.policy_version or '- (bootstrap)')}")
    echo(f"pushes:         {reply.applied} applied, {reply.rejected} rejected")
    echo(f"credential:     {safe(reply.credential or '-')} ({safe(reply.address or '-')})")
    echo(f"last NACK:      {safe(reply.last_nack or '-')}")
    echo(f"last good file: {reply.last_good_file}")
    return 0


async def serve(
    args: argparse.Namespace, stale_after: float, remove_after: float, max_policy: int, lease: float
) -> None:
    from apex.mesh.bus.connect import is_cluster_url
    from apex.mesh.v1 import config_pb2

    from engines.control.server import CLUSTER_PREFIX, ControlPlaneServer  # the CLI is the composition root
    from sidecar.policy import convert

    def validate(policy: config_pb2.Policy) -> object:
        return convert.policy(policy, max_bytes=max_policy)

    from apex.mesh.security.secrets import redact_url, resolve

    from engines.control.authn import Authenticator
    from engines.security.ca import MeshCA

    redis_url = resolve(args.redis) if args.redis.startswith(("env:", "file:")) else args.redis
    if args.insecure:
        authenticator = Authenticator({}, insecure=True)
        log.warning("=" * 78)
        log.warning("INSECURE: --insecure given: ANY client may register as ANY service and change ANY policy.")
        log.warning("INSECURE: audit authors are unverified claims. For a local demo only (docs/security.md).")
        log.warning("=" * 78)
    else:
        authenticator = Authenticator.from_file(args.auth)
    ca = None
    shared = None
    if args.ca_store:
        from apex.mesh.security.sealed import Sealer

        from engines.security.ca_store import SharedCa

        ttl = parse_duration(args.certificate_ttl, "--certificate-ttl")
        at_rest = Sealer.from_ref(args.secret_key)
        # With --ca-dir too: that CA is moved into the store when the store holds none (then only read).
        seed = MeshCA.load(args.ca_dir, args.trust_domain, ttl, at_rest) if args.ca_dir else None
        shared = SharedCa(args.trust_domain, at_rest, ttl, seed)
    elif args.ca_dir:
        import time

        from apex.mesh.security.sealed import Sealer

        sealer = Sealer.from_ref(args.secret_key) if args.secret_key else None
        ttl = parse_duration(args.certificate_ttl, "--certificate-ttl")
        if (Path(args.ca_dir) / "roots.pem").exists():
            ca = MeshCA.load(args.ca_dir, args.trust_domain, ttl, sealer)
            if sealer is not None and (Path(args.ca_dir) / "keys.pem").exists():
                ca.save(args.ca_dir)  # sealed from now on; the clear copy is removed
        else:
            ca = MeshCA.create(args.trust_domain, time.time(), ttl)
            ca.sealer = sealer
            ca.save(args.ca_dir)
        log.info("mesh CA for trust domain %s (%d root(s)) in %s, keys %s", args.trust_domain, len(ca.roots),
                 args.ca_dir, "sealed (AES-GCM)" if sealer else "in clear (0600; see --secret-key)")  # fmt: skip
    if args.mtls_listen and ((ca is None and shared is None) or args.insecure):
        log.warning(
            "--mtls-listen ignored: the mTLS port needs the mesh CA (--ca-dir or --ca-store) and authentication "
            "(--auth)"
        )
    server = ControlPlaneServer(
        args.listen,
        redis_url,
        validate=validate,  # bad policies are refused at the door, naming the field
        max_policy_bytes=max_policy,
        prefix=args.prefix if args.prefix is not None else CLUSTER_PREFIX if is_cluster_url(redis_url) else "apex:cp:",
        replica=args.replica,
        stale_after=stale_after,
        remove_after=remove_after,
        keep_versions=args.keep_versions,
        authenticator=authenticator,
        ca=ca,
        namespace=args.namespace,
        ca_dir=args.ca_dir,
        mtls_listen=args.mtls_listen or f"{args.listen.rpartition(':')[0]}:0",
        lease=lease,
        shared_ca=shared,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    bound = await server.start()
    log.info("control plane %s ready on %s (redis %s)", server.hub.replica, bound, redact_url(redis_url))
    if args.ports_file:
        tmp = Path(args.ports_file + ".tmp")
        ports = {"control_plane": bound, "replica": server.hub.replica}
        if server.mtls_bound:
            ports["control_plane_mtls"] = server.mtls_bound
        tmp.write_text(json.dumps(ports))
        tmp.replace(args.ports_file)
    await stop.wait()
    log.info("shutting down")
    await server.stop(grace=1.0)


def run(args: argparse.Namespace) -> int:
    from apex.mesh.security.secrets import REDACTOR

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(REDACTOR)  # secrets resolved by this process never reach the log, at any level
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler])
    if not args.insecure and not args.auth:
        echo(
            "apex control-plane: refusing to start without authentication: pass --auth FILE (tokens, see "
            "docs/security.md) or --insecure for a local demo",
            file=sys.stderr,
        )
        return 2
    if args.ca_store and not args.secret_key:
        echo(
            "apex control-plane: --ca-store needs --secret-key (env:NAME or file:PATH): the CA's root keys are "
            "never stored in Redis unsealed",
            file=sys.stderr,
        )
        return 2
    try:
        stale_after = parse_duration(args.stale_after, "--stale-after")
        remove_after = parse_duration(args.remove_after, "--remove-after")
        lease = parse_duration(args.instance_lease, "--instance-lease")
        max_policy = (
            limits.parse_size(args.max_policy_bytes, "--max-policy-bytes")
            if args.max_policy_bytes
            else (limits.DEFAULT_MAX_POLICY_BYTES)
        )
    except ConfigError as exc:
        echo(f"apex control-plane: {exc}", file=sys.stderr)
        return 2
    try:
        uvloop.run(serve(args, stale_after, remove_after, max_policy, lease))
    except ValueError as exc:  # a tokens file or secret reference that does not resolve (never a value)
        echo(f"apex control-plane: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        echo(f"apex control-plane: {exc}", file=sys.stderr)
        return 1
    return 0
