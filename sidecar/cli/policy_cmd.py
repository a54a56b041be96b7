"""`apex policy get|set|patch|history|diff|rollback` and `apex instances`: talk to PolicyAdmin."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from typing import Any

import grpc
from apex.mesh.security.secrets import bearer, client_token
from apex.mesh.v1 import config_pb2, control_pb2, control_pb2_grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from sidecar.cli import policy_view as view
from sidecar.cli import policy_wait
from sidecar.cli.term import echo, safe
from sidecar.config import strict_yaml
from sidecar.config.yaml_proto import fill
from sidecar.policy import convert, limits
from sidecar.policy.errors import ConfigError

DEFAULT_CONTROL_PLANE = "127.0.0.1:7700"


def _common(p: argparse.ArgumentParser, *, service: bool = True) -> None:
    p.add_argument(
        "--control-plane",
        default=os.environ.get("APEX_CONTROL_PLANE", DEFAULT_CONTROL_PLANE),
        metavar="HOST:PORT",
        help=f"control plane address (default $APEX_CONTROL_PLANE or {DEFAULT_CONTROL_PLANE})",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    if service:
        p.add_argument("--service", "-s", required=True, help="the service whose policy to use")


def _change(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--author",
        default=os.environ.get("APEX_AUTHOR") or _user(),
        help="who (default: $USER); an authenticated control plane records the token's principal instead",
    )
    p.add_argument("--reason", "-m", default="", help="why: kept in the audit record")
    p.add_argument("--source", choices=sorted(view.SOURCES), default="operator", help="default operator")
    p.add_argument(
        "--expect-version",
        type=int,
        metavar="N",
        help="fail with a version conflict unless N is still the latest (default: the latest when you run it)",
    )


def _wait(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--wait", nargs="?", const=30.0, type=float, metavar="SECONDS",
        help="wait (default 30 s) until the sidecars applied the version; exit 1 on a NACK or timeout",
    )  # fmt: skip


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def register(commands: Any) -> None:
    p = commands.add_parser("policy", help="read and change the policy the control plane pushes")
    sub = p.add_subparsers(dest="policy_command", required=True, metavar="COMMAND")

    get = sub.add_parser("get", help="print a policy version as YAML (default: the latest)")
    _common(get)
    get.add_argument("--version", type=int, default=0, help="version number (default latest)")
    get.set_defaults(run=guarded(run_get))

    put = sub.add_parser("set", help="store a policy from a YAML file as the next version and push it")
    _common(put)
    _change(put)
    put.add_argument("file", help="YAML file: a Policy (route_tables, clusters) or a bootstrap with `policy:`")
    put.add_argument("--canary", type=float, metavar="PCT", help="push to PCT%% of the instances first")
    _wait(put)
    put.set_defaults(run=guarded(run_set))

    pat = sub.add_parser("patch", help="change one field, e.g. clusters[echo].authority=echo.internal")
    _common(pat)
    _change(pat)
    pat.add_argument("assignment", help="PATH=VALUE; VALUE is YAML (250ms, 3, true, {address: ...}, null)")
    pat.add_argument("--canary", type=float, metavar="PCT", help="push to PCT%% of the instances first")
    _wait(pat)
    pat.set_defaults(run=guarded(run_patch))

    his = sub.add_parser("history", help="every version with who, when, why and how much changed")
    _common(his)
    his.add_argument("--limit", type=int, default=0, help="newest N versions (default all)")
    his.set_defaults(run=guarded(run_history))

    dif = sub.add_parser("diff", help="field-level diff between two versions (default: latest vs the one before)")
    _common(dif)
    dif.add_argument("from_version", nargs="?", type=int, default=0, help="older version (default: TO - 1)")
    dif.add_argument("to_version", nargs="?", type=int, default=0, help="newer version (default: latest)")
    dif.set_defaults(run=guarded(run_diff))

    rb = sub.add_parser("rollback", help="store an old version's policy as the next version and push it")
    _common(rb)
    _change(rb)
    rb.add_argument("--to", type=int, required=True, metavar="N", dest="to_version", help="version to restore")
    _wait(rb)
    rb.set_defaults(run=guarded(run_rollback))

    ins = commands.add_parser(
        "instances",
        help="registered sidecars: health, applied version, last NACK",
        description="List the sidecars in the control plane's registry: address, zone, healthy (a heartbeat "
        "within --stale-after), connected replica, the policy version pushed and applied, and the last "
        "version each rejected (NACK) with the field and reason.",
    )
    _common(ins, service=False)
    ins.add_argument("--service", "-s", default="", help="only this service")
    ins.set_defaults(run=guarded(run_instances))


# --- plumbing ----------------------------------------------------------------------------------


def _call(args: argparse.Namespace, method: str, request: Message) -> Any:
    with grpc.insecure_channel(args.control_plane) as channel:
        stub = control_pb2_grpc.PolicyAdminStub(channel)
        return getattr(stub, method)(request, timeout=10, metadata=bearer(client_token()))


def _emit_json(message: Message) -> None:
    echo(json_format.MessageToJson(message, preserving_proto_field_name=True, indent=2))


def _change_msg(args: argparse.Namespace, expected: int | None) -> control_pb2.Change:
    change = control_pb2.Change(author=args.author, reason=args.reason, source=view.SOURCES[args.source])
    if args.expect_version is not None:
        change.expected_version = args.expect_version
    elif expected is not None:
        change.expected_version = expected
    if getattr(args, "canary", None) is not None:
        change.rollout_percent = args.canary
    return change


def _latest(args: argparse.Namespace) -> int:
    try:
        record = _call(args, "GetPolicy", control_pb2.GetPolicyRequest(service=args.service))
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            return 0
        raise
    return int(record.version)


def _written(args: argparse.Namespace, record: control_pb2.PolicyRecord) -> int:
    if args.json:
        _emit_json(record)
        return _await_sidecars(args, record) if getattr(args, "wait", None) else 0
    canary = f" to {view.percent(record.rollout_percent)} of instances" if record.rollout_percent < 100 else ""
    echo(f"{record.service}: stored version {record.version}{canary}; pushing to its sidecars")
    echo(view.diff_text(record.diff))
    return _await_sidecars(args, record) if getattr(args, "wait", None) else 0


def _await_sidecars(args: argparse.Namespace, record: control_pb2.PolicyRecord) -> int:
    """Poll ListInstances until the sidecars ACKed (0) or one NACKed / the timeout passed (1)."""
    deadline = time.monotonic() + args.wait
    full = record.rollout_percent >= 100
    while True:
        listing = _call(args, "ListInstances", control_pb2.ListInstancesRequest(service=record.service))
        got = policy_wait.progress(listing.instances, record.version, full)
        if got.done or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    out = sys.stderr if args.json else sys.stdout
    echo(policy_wait.summary(got, record.version), file=out)
    if got.nacked:
        return 1
    if not got.done:
        if not got.applied and not got.pending:
            echo(f"apex policy: no connected sidecar of {safe(record.service)} took version {record.version} "
                 f"within {args.wait:g}s", file=sys.stderr)  # fmt: skip
        else:
            echo(f"apex policy: timed out after {args.wait:g}s waiting for the sidecars", file=sys.stderr)
        return 1
    return 0


# --- commands ----------------------------------------------------------------------------------


def run_get(args: argparse.Namespace) -> int:
    record = _call(args, "GetPolicy", control_pb2.GetPolicyRequest(service=args.service, version=args.version))
    if args.json:
        _emit_json(record)
    else:
        echo(view.record_header(record))
        echo(view.policy_yaml(record).rstrip("\n"))
    return 0


def load_policy(path: str) -> config_pb2.Policy:
    """A Policy YAML file (or a bootstrap's `policy:` section), validated like a sidecar would."""
    data = strict_yaml.load_file(path, limits.max_config_bytes())
    if not isinstance(data, dict):
        raise ConfigError("", "expected a mapping with route_tables and clusters", path)
    prefix = "policy"
    if "policy" in data and isinstance(data["policy"], dict):
        data = data["policy"]
    message = config_pb2.Policy()
    try:
        fill(message, data, prefix)
        message.version = ""
        convert.policy(message)
    except ConfigError as exc:
        raise exc.in_source(path) from None
    return message


def run_set(args: argparse.Namespace) -> int:
    try:
        policy = load_policy(args.file)
    except ConfigError as exc:
        echo(f"apex policy set: invalid policy: {exc}", file=sys.stderr)
        return 2
    expected = None if args.expect_version is not None else _latest(args)
    request = control_pb2.SetPolicyRequest(service=args.service, policy=policy, change=_change_msg(args, expected))
    return _written(args, _call(args, "SetPolicy", request))


def run_patch(args: argparse.Namespace) -> int:
    path, sep, value = args.assignment.partition("=")
    if not sep or not path:
        print("apex policy patch: expected PATH=VALUE, e.g. clusters[echo].authority=echo.internal", file=sys.stderr)
        return 2
    request = control_pb2.PatchPolicyRequest(
        service=args.service, path=path.strip(), value=value, change=_change_msg(args, None)
    )
    return _written(args, _call(args, "PatchPolicy", request))


def history_pages(args: argparse.Namespace) -> control_pb2.HistoryResponse:
    """Every page of History (the server sends bounded pages), gathered into one response."""
    gathered = control_pb2.HistoryResponse()
    token = ""
    while True:
        request = control_pb2.HistoryRequest(service=args.service, limit=args.limit, page_token=token)
        page = _call(args, "History", request)
        gathered.records.extend(page.records)
        if not (token := page.next_page_token):
            return gathered


def run_history(args: argparse.Namespace) -> int:
    response = history_pages(args)
    if args.json:
        _emit_json(response)
    else:
        listing = _call(args, "ListInstances", control_pb2.ListInstancesRequest(service=args.service))
        echo(view.history_table(response.records, listing.instances))
    return 0


def run_diff(args: argparse.Namespace) -> int:
    request = control_pb2.DiffRequest(service=args.service, from_version=args.from_version, to_version=args.to_version)
    response = _call(args, "Diff", request)
    if args.json:
        _emit_json(response)
    else:
        echo(view.diff_text(response.changes))
    return 0


def run_rollback(args: argparse.Namespace) -> int:
    request = control_pb2.RollbackRequest(
        service=args.service, to_version=args.to_version, change=_change_msg(args, None)
    )
    return _written(args, _call(args, "Rollback", request))


def run_instances(args: argparse.Namespace) -> int:
    response = _call(args, "ListInstances", control_pb2.ListInstancesRequest(service=args.service))
    if args.json:
        _emit_json(response)
    elif not response.instances:
        echo("no instances registered" + (f" for {safe(args.service)}" if args.service else ""))
    else:
        echo(view.instances_table(response.instances))
    return 0


def guarded(run: Any) -> Any:
    """Turn gRPC errors into one readable line and exit code 1 (3 for a version conflict)."""

    def wrapper(args: argparse.Namespace) -> int:
        try:
            result: int = run(args)
            return result
        except grpc.RpcError as exc:
            code = exc.code()
            if code == grpc.StatusCode.UNAVAILABLE:
                print(f"apex: control plane {safe(args.control_plane)} unavailable: {safe(exc.details())}",
                      file=sys.stderr)  # fmt: skip
                return 1
            print(f"apex: {safe(exc.details())}", file=sys.stderr)
            return 3 if code == grpc.StatusCode.ABORTED else 1

    return wrapper
