"""Validated conversion from `apex.mesh.v1` protobuf config to the frozen policy model.

Every problem raises ConfigError naming the field path (`policy.clusters[1].endpoints[0].address`)
and the reason, the way linkerd's client-policy `TryFrom` conversions report typed errors.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable

from apex.mesh.contract.names import MAX_NAME, name_problem
from apex.mesh.v1 import config_pb2

from sidecar.policy import (
    auth_convert,
    cache_convert,
    cluster_convert,
    limits,
    route_convert,
    security_convert,
    transport_convert,
)
from sidecar.policy.address import Address, parse_address
from sidecar.policy.errors import ConfigError
from sidecar.policy.fields import check_path, positive_seconds, required_name
from sidecar.policy.model import (
    Bootstrap,
    Cluster,
    ControlPlane,
    Direction,
    Endpoint,
    HeaderMatch,
    HeaderRule,
    Listener,
    Node,
    PathKind,
    Policy,
    Route,
    RouteMatch,
    RouteTable,
)
from sidecar.policy.security_model import AdminAccess, Security
from sidecar.security.peer import MtlsMode

DEFAULT_DNS_REFRESH = 5.0
MAX_WEIGHT = 10_000


def _address(text: str, path: str, *, listen: bool = False) -> Address:
    try:
        return parse_address(text, allow_port_zero=listen)
    except ValueError as exc:
        raise ConfigError(path, str(exc)) from None


def _unique(names: Iterable[str], path: str, what: str) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise ConfigError(f"{path}[{i}].name", f"duplicate {what} name {name!r}")
        seen.add(name)


def header_match(msg: config_pb2.HeaderMatch, path: str) -> HeaderMatch:
    name = required_name(msg.name, f"{path}.name", "header name")
    if name != name.lower() or name.startswith(":"):
        raise ConfigError(f"{path}.name", f"header names are lower-case metadata keys, got {name!r}")
    rule = msg.WhichOneof("rule")
    if rule is None:
        raise ConfigError(path, "one of exact, prefix or present is required")
    if rule == "present" and not msg.present:
        raise ConfigError(f"{path}.present", "present: false matches nothing; use present: true with invert")
    value = "" if rule == "present" else getattr(msg, rule)
    return HeaderMatch(name=name, rule=HeaderRule(rule), value=value, invert=msg.invert)


def route_match(msg: config_pb2.RouteMatch, path: str) -> RouteMatch:
    kind = msg.WhichOneof("path")
    value = getattr(msg, kind) if kind else ""
    check_path(kind, value, path)
    headers = tuple(header_match(h, f"{path}.headers[{i}]") for i, h in enumerate(msg.headers))
    return RouteMatch(
        authority=msg.authority.lower(),
        path_kind=PathKind(kind) if kind else PathKind.ANY,
        path=value,
        headers=headers,
    )


def route(msg: config_pb2.Route, path: str, clusters: set[str]) -> Route:
    name = required_name(msg.name, f"{path}.name", "route name")
    cluster = route_convert.primary_cluster(msg, path, clusters)
    match = route_match(msg.match, f"{path}.match") if msg.HasField("match") else RouteMatch()
    return Route(name=name, cluster=cluster, match=match, policy=route_convert.route_policy(msg, path, clusters))


def endpoint(msg: config_pb2.Endpoint, path: str) -> Endpoint:
    address = _address(msg.address, f"{path}.address")
    weight = msg.weight or 1
    if weight > MAX_WEIGHT:
        raise ConfigError(f"{path}.weight", f"weight {weight} is above the maximum {MAX_WEIGHT}")
    return Endpoint(address=address, weight=weight)


def cluster(msg: config_pb2.Cluster, path: str) -> Cluster:
    name = required_name(msg.name, f"{path}.name", "cluster name")
    if msg.discover and (problem := name_problem(msg.discover)) is not None:
        raise ConfigError(f"{path}.discover", f"expected a service name: {problem}")
    if not msg.endpoints and not msg.discover:
        raise ConfigError(f"{path}.endpoints", "a cluster needs at least one endpoint (or `discover: <service>`)")
    endpoints = tuple(endpoint(e, f"{path}.endpoints[{i}]") for i, e in enumerate(msg.endpoints))
    return Cluster(
        name=name,
        endpoints=endpoints,
        dns_refresh=positive_seconds(msg, "dns_refresh", path, DEFAULT_DNS_REFRESH),
        authority=msg.authority,
        **cluster_convert.resilience(msg, path),
        discover=msg.discover,
        transport=(transport := transport_convert.transport_name(msg.transport, path)),
        mtls=msg.mtls,
        mtls_server_identity=security_convert.server_identity(msg, transport, path),
        h2=transport_convert.h2_settings(msg, transport, "cluster", path),
    )


def policy(msg: config_pb2.Policy, path: str = "policy", max_bytes: int | None = None) -> Policy:
    """Validate a Policy message into the model; larger than `max_bytes` (APEX_MAX_POLICY_BYTES) is refused."""
    limit = limits.max_policy_bytes() if max_bytes is None else max_bytes
    size = msg.ByteSize()
    if size > limit:
        raise ConfigError(
            path, f"policy is {size} bytes ({limits.human(size)}), over the limit of {limit} bytes "
            f"({limits.human(limit)}; {limits.POLICY_ENV})",
        )  # fmt: skip
    _unique((c.name for c in msg.clusters), f"{path}.clusters", "cluster")
    clusters = tuple(cluster(c, f"{path}.clusters[{i}]") for i, c in enumerate(msg.clusters))
    names = {c.name for c in clusters}
    _unique((t.name for t in msg.route_tables), f"{path}.route_tables", "route table")
    tables = []
    for i, table in enumerate(msg.route_tables):
        tpath = f"{path}.route_tables[{i}]"
        required_name(table.name, f"{tpath}.name", "route table name")
        _unique((r.name for r in table.routes), f"{tpath}.routes", "route")
        routes = tuple(route(r, f"{tpath}.routes[{j}]", names) for j, r in enumerate(table.routes))
        tables.append(RouteTable(name=table.name, routes=routes))
    cache = cache_convert.rules(msg.cache, f"{path}.cache")
    defaults = msg.route_defaults
    seed = defaults.random_seed if defaults.HasField("random_seed") else None
    route_names = {r.name for t in tables for r in t.routes}
    jwt = auth_convert.request_authentication(msg.jwt, f"{path}.jwt", route_names)
    authorization = auth_convert.authorization(msg.authorization, f"{path}.authorization", route_names)
    return Policy(
        version=msg.version,
        route_tables=tuple(tables),
        clusters=clusters,
        cache=cache,
        random_seed=seed,
        jwt=jwt,
        authorization=authorization,
    )


def node(msg: config_pb2.Node) -> Node:
    service = required_name(msg.service, "node.service", "service name") if msg.service else "default"
    if msg.instance:
        instance = required_name(msg.instance, "node.instance", "instance id")
    else:
        host = "".join(c if (c.isalnum() and c.isascii()) or c in "._-" else "-" for c in socket.gethostname())
        instance = f"{service}-{host}-{os.getpid()}"[:MAX_NAME]
    address = _address(msg.address, "node.address") if msg.address else None
    return Node(
        service=service,
        instance=instance,
        zone=msg.zone,
        labels=tuple(sorted(msg.labels.items())),
        address=address,
    )


def control_plane(msg: config_pb2.Bootstrap, service: str) -> ControlPlane | None:
    """The control-plane settings of a bootstrap, or None when it names no control plane."""
    if not msg.control_plane:
        if msg.last_good_policy_file or msg.HasField("heartbeat_interval"):
            raise ConfigError("control_plane", "required when last_good_policy_file or heartbeat_interval is set")
        return None
    state_home = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return ControlPlane(
        address=_address(msg.control_plane, "control_plane"),
        last_good_file=msg.last_good_policy_file or os.path.join(state_home, "apex", f"{service}.policy.binpb"),
        heartbeat_interval=positive_seconds(msg, "heartbeat_interval", "", 1.0),
    )


def _check_ports(listeners: tuple[Listener, ...], admin: Address | None) -> None:
    """Two sockets on one port conflict when their hosts overlap (equal, or either is a wildcard)."""
    bound: list[tuple[str, Address]] = [(f"listeners[{i}].address", lis.address) for i, lis in enumerate(listeners)]
    if admin is not None:
        bound.append(("admin.address", admin))
    for i, (path, addr) in enumerate(bound):
        for other_path, other in bound[:i]:
            overlap = addr.host == other.host or addr.is_wildcard or other.is_wildcard
            if addr.port and addr.port == other.port and overlap:
                raise ConfigError(path, f"port {addr.port} conflicts with {other_path} ({other})")


def bootstrap(msg: config_pb2.Bootstrap) -> Bootstrap:
    """Validate a whole Bootstrap message into the model."""
    pol = policy(msg.policy)
    tables = {t.name for t in pol.route_tables}
    if not msg.listeners:
        raise ConfigError("listeners", "at least one listener is required")
    _unique((lis.name for lis in msg.listeners), "listeners", "listener")
    listeners = []
    for i, lis in enumerate(msg.listeners):
        path = f"listeners[{i}]"
        name = required_name(lis.name, f"{path}.name", "listener name")
        if lis.direction == config_pb2.Listener.DIRECTION_UNSPECIFIED:
            raise ConfigError(f"{path}.direction", "direction is required: INBOUND or OUTBOUND")
        table = lis.route_table or name
        if table not in tables:
            known = ", ".join(sorted(tables)) or "none"
            raise ConfigError(f"{path}.route_table", f"no route table named {table!r} (route tables: {known})")
        direction = Direction.INBOUND if lis.direction == config_pb2.Listener.INBOUND else Direction.OUTBOUND
        listeners.append(
            Listener(
                name=name,
                address=_address(lis.address, f"{path}.address", listen=True),
                direction=direction,
                route_table=table,
                default_authority=lis.default_authority.lower(),
                transport=(transport := transport_convert.transport_name(lis.transport, path)),
                limits=transport_convert.wire_limits(lis.limits, path),
                h2=transport_convert.h2_settings(lis, transport, "listener", path),
                mtls=security_convert.mtls_mode(lis.mtls, path),
                allowed_principals=security_convert.principals(list(lis.allowed_principals), path),
            )
        )
    admin_text = msg.admin.address
    if admin_text.startswith(":"):  # a port alone: loopback (the admin is never exposed by default)
        admin_text = "127.0.0.1" + admin_text
    admin = _address(admin_text, "admin.address", listen=True) if admin_text else None
    access = security_convert.admin_access(msg, admin) if admin is not None else AdminAccess()
    result = tuple(listeners)
    _check_ports(result, admin)
    cache = cache_convert.bounds(msg.cache, "cache")
    who = node(msg.node)
    return Bootstrap(
        node=who,
        admin=admin,
        listeners=result,
        policy=pol,
        cache=cache,
        control_plane=control_plane(msg, who.service),
        security=_security(msg, who.service, result),
        admin_access=access,
    )


def _security(msg: config_pb2.Bootstrap, service: str, listeners: tuple[Listener, ...]) -> Security | None:
    """The workload identity; a listener asking for mTLS needs a certificate source."""
    sec = security_convert.security(msg, service)
    for i, lis in enumerate(listeners):
        if lis.mtls is not MtlsMode.DISABLE and sec is None:
            raise ConfigError(
                f"listeners[{i}].mtls",
                f"mTLS {lis.mtls.value!r} needs a `security` section "
                "(certificate_files, or a control plane whose CA issues the certificate)",
            )
        if sec is not None and sec.files is None and not msg.control_plane and lis.mtls is not MtlsMode.DISABLE:
            raise ConfigError("security.certificate_files", "without a control plane, mTLS needs certificate files")
    return sec
