"""What the suite measures against: the Echo upstream, sidecar set-ups, and nginx / HAProxy as gRPC proxies.

Every process here is a real subprocess started by this module and stopped by its PID. A target is an
address the load generator dials plus the PIDs of the proxy processes whose CPU and memory count
against it (the Echo upstream runs in its own process and never counts).
"""

from __future__ import annotations

import copy
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from benchmarks.echo_proc import EchoProcess
from sidecar.support.redis_server import free_port
from sidecar.support.sidecar_proc import SidecarProcess

ECHO_SERVICE = "apex.mesh.v1.Echo"

# Cache rules merged into the cached sidecar's `policy` (see docs/cache.md; --cache-config FILE overrides).
DEFAULT_CACHE_POLICY: dict[str, Any] = {
    "cache": [{"name": "echo-unary", "method": f"/{ECHO_SERVICE}/Unary", "ttl": "300s"}],
}


@dataclass
class Target:
    name: str
    description: str
    address: str = ""
    processes: dict[str, Callable[[], list[int]]] = field(default_factory=dict)  # label -> PIDs now
    stop: Callable[[], None] = lambda: None
    cache_admin: str = ""  # a sidecar with a response cache: its admin address (CacheAdmin hit counters)


def cache_counts(admin: str) -> dict[str, int]:
    """Hits and misses summed over the cache rules of the sidecar whose admin address is `admin`."""
    import grpc
    from apex.mesh.v1 import cache_pb2, cache_pb2_grpc

    with grpc.insecure_channel(admin) as channel:
        stats = cache_pb2_grpc.CacheAdminStub(channel).GetCacheStats(cache_pb2.GetCacheStatsRequest(), timeout=10)
    return {
        "hits": sum(m.hits for m in stats.methods),
        "misses": sum(m.misses for m in stats.methods),
        "coalesced": sum(m.coalesced for m in stats.methods),
    }


class Upstream(Protocol):
    """The Echo service every target ends at: its address, its PID (its CPU never counts against a
    proxy) and how many calls it has served so far."""

    address: str

    @property
    def pid(self) -> int: ...

    def calls(self) -> int: ...

    def close(self) -> None: ...


class Unavailable(Exception):
    """A target cannot run here (tool not installed, config rejected); the suite skips it with the reason."""


def _wait_tcp(address: str, proc: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    host, _, port = address.rpartition(":")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Unavailable(f"exited with {proc.returncode}: {log.read_text(errors='replace')[-800:]}")
        try:
            with socket.create_connection((host, int(port)), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise Unavailable(f"not listening on {address} within {timeout}s")


def _terminate(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def EchoUpstream() -> EchoProcess:
    """The Echo example service in its own process; it reports how many calls it served."""
    return EchoProcess("bench")


# --- sidecar configs ------------------------------------------------------------------------------


def _listener(direction: str, transport: str) -> dict[str, Any]:
    return {"name": direction.lower(), "address": "127.0.0.1:0", "direction": direction, "transport": transport}


def outbound_config(upstream: str, cache: dict[str, Any] | None = None, transport: str = "grpc") -> dict[str, Any]:
    """Outbound only: the app dials this listener; Echo calls route to `upstream`. `transport` serves
    both the listener and the cluster (grpc or h2, see README "Transports")."""
    policy: dict[str, Any] = {
        "route_tables": [
            {"name": "outbound", "routes": [{"name": "echo", "match": {"service": ECHO_SERVICE}, "cluster": "echo"}]}
        ],
        "clusters": [{"name": "echo", "endpoints": [{"address": upstream}], "transport": transport}],
    }
    if cache:
        policy.update(copy.deepcopy(cache))
    return {
        "node": {"service": "bench-client"},
        "admin": {"address": "127.0.0.1:0"},
        "listeners": [_listener("OUTBOUND", transport)],
        "policy": policy,
    }


def inbound_config(local: str, transport: str = "grpc") -> dict[str, Any]:
    """Inbound only: calls from the mesh go to the local service at `local` (listener and cluster on `transport`)."""
    return {
        "node": {"service": "echo"},
        "admin": {"address": "127.0.0.1:0"},
        "listeners": [_listener("INBOUND", transport)],
        "policy": {
            "route_tables": [{"name": "inbound", "routes": [{"name": "local", "cluster": "local"}]}],
            "clusters": [{"name": "local", "endpoints": [{"address": local}], "transport": transport}],
        },
    }


def _sidecar(config: dict[str, Any]) -> SidecarProcess:
    proc = SidecarProcess(config, args=["--log-level", "WARNING"])
    try:
        return proc.start(timeout=60.0)  # several start side by side (suite.start_targets) on a busy machine
    except RuntimeError as exc:
        proc.close()
        raise Unavailable(str(exc).strip().splitlines()[-1] if str(exc).strip() else "sidecar failed") from None


def _pids(proc: SidecarProcess) -> Callable[[], list[int]]:
    return lambda: [proc.proc.pid] if proc.proc is not None else []


# --- target builders ------------------------------------------------------------------------------

# A sidecar target on the h2 transport is named like its grpc twin plus this suffix (suite.compare pairs them).
H2_SUFFIX = "-h2"
_SUFFIX = {"grpc": "", "h2": H2_SUFFIX}


def direct(echo: Upstream) -> Target:
    return Target("direct", "client → Echo", echo.address)


def _one(name: str, description: str, proc: SidecarProcess, listener: str, cache_admin: str = "") -> Target:
    """A target that is one sidecar: clients dial its `listener`."""
    return Target(name, description, proc[listener], {"sidecar": _pids(proc)}, proc.close, cache_admin)


def sidecar_outbound(echo: Upstream, transport: str = "grpc") -> Target:
    proc = _sidecar(outbound_config(echo.address, transport=transport))
    description = f"client → sidecar (outbound listener, transport {transport}) → Echo"
    return _one("sidecar-out" + _SUFFIX[transport], description, proc, "outbound")


def sidecar_inbound(echo: Upstream) -> Target:
    proc = _sidecar(inbound_config(echo.address))
    return _one("sidecar-in", "client → sidecar (inbound listener) → Echo", proc, "inbound")


def mesh(echo: Upstream, transport: str = "grpc") -> Target:
    """Two sidecars, each with its listener and its cluster on `transport` (so sidecar A → B speaks it too)."""
    b = _sidecar(inbound_config(echo.address, transport))
    try:
        a = _sidecar(outbound_config(b["inbound"], transport=transport))
    except Unavailable:
        b.close()
        raise

    def stop() -> None:
        a.close()
        b.close()

    return Target(
        "mesh" + _SUFFIX[transport],
        f"client → sidecar A (outbound) → sidecar B (inbound) → Echo, transport {transport}",
        a["outbound"],
        {"sidecar-a": _pids(a), "sidecar-b": _pids(b)},
        stop,
    )


def sidecar_cached(echo: Upstream, cache: dict[str, Any]) -> Target:
    """Outbound sidecar with a response cache on Echo/Unary; Unavailable when the sidecar rejects the config
    (it stops at start naming the field: its last log line is the reason)."""
    try:
        proc = _sidecar(outbound_config(echo.address, cache))
    except Unavailable as exc:
        raise Unavailable(f"the sidecar rejects the cache config ({exc})") from None
    description = "client → sidecar (outbound, response cache on Echo/Unary) → Echo"
    return _one("sidecar-cache", description, proc, "outbound", cache_admin=proc["admin"])


class _External:
    """nginx or HAProxy: a config written to a temp dir, started in the foreground, stopped by PID."""

    def __init__(
        self, argv: Callable[[Path], list[str]], config: Callable[[Path], str], filename: str, address: str
    ) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="apex-bench-proxy-"))
        (self.dir / filename).write_text(config(self.dir))
        self.log = self.dir / "proxy.log"
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(argv(self.dir), stdout=out, stderr=subprocess.STDOUT, cwd=self.dir)
        try:
            _wait_tcp(address, self.proc, 10.0, self.log)
        except Unavailable:
            self.close()
            raise

    def pids(self) -> list[int]:
        from benchmarks.procstat import children

        if self.proc.poll() is not None:
            return []
        return [self.proc.pid, *children(self.proc.pid)]

    def close(self) -> None:
        _terminate(self.proc, signal.SIGTERM)
        shutil.rmtree(self.dir, ignore_errors=True)


def nginx_config(listen_port: int, upstream: str, prefix: Path) -> str:
    return f"""# written by apex bench: nginx as a plain gRPC proxy (one worker, like one sidecar process)
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    client_max_body_size 0;
    # nginx closes a client HTTP/2 connection after 1000 requests by default (GOAWAY): in-flight gRPC calls
    # then fail with UNAVAILABLE. A gRPC proxy keeps its connections, like the sidecar does.
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    upstream echo {{
        server {upstream};
        keepalive 64;
        keepalive_requests 1000000;
    }}
    server {{
        listen 127.0.0.1:{listen_port} http2;
        location / {{
            grpc_pass grpc://echo;
            grpc_read_timeout 60s;
            grpc_send_timeout 60s;
        }}
    }}
}}
"""


def haproxy_config(listen_port: int, upstream: str) -> str:
    return f"""# written by apex bench: HAProxy as a plain gRPC (HTTP/2) proxy, one thread
global
    nbthread 1
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend grpc_in
    bind 127.0.0.1:{listen_port} proto h2
    default_backend echo
backend echo
    server echo {upstream} proto h2
"""


def tool_version(name: str) -> str | None:
    path = shutil.which(name)
    if path is None:
        return None
    flag = "-v" if name == "nginx" else "-vv"
    try:
        done = subprocess.run([path, flag], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    first = (done.stderr or done.stdout).strip().splitlines()
    return first[0] if first else name


def _binary(name: str) -> str:
    path = shutil.which(name)  # from PATH only, so hiding it from PATH skips the target
    if path is None:
        raise Unavailable(f"{name} is not installed (not on PATH; apt-get install -y {name})")
    return path


def nginx(echo: Upstream) -> Target:
    binary = _binary("nginx")
    port = free_port()
    ext = _External(
        lambda d: [binary, "-p", str(d), "-c", str(d / "nginx.conf"), "-g", "daemon off;"],
        lambda d: nginx_config(port, echo.address, d),
        "nginx.conf",
        f"127.0.0.1:{port}",
    )
    return Target(
        "nginx", "client → nginx (grpc_pass, 1 worker) → Echo", f"127.0.0.1:{port}", {"nginx": ext.pids}, ext.close
    )


def haproxy(echo: Upstream) -> Target:
    binary = _binary("haproxy")
    port = free_port()
    ext = _External(
        lambda d: [binary, "-db", "-f", str(d / "haproxy.cfg")],
        lambda d: haproxy_config(port, echo.address),
        "haproxy.cfg",
        f"127.0.0.1:{port}",
    )
    return Target(
        "haproxy", "client → HAProxy (HTTP/2, 1 thread) → Echo", f"127.0.0.1:{port}", {"haproxy": ext.pids}, ext.close
    )


BUILDERS: dict[str, Callable[[Upstream], Target]] = {
    "direct": direct,
    "sidecar-out": sidecar_outbound,
    "sidecar-out-h2": lambda echo: sidecar_outbound(echo, "h2"),
    "sidecar-in": sidecar_inbound,
    "mesh": mesh,
    "mesh-h2": lambda echo: mesh(echo, "h2"),
    "nginx": nginx,
    "haproxy": haproxy,
}
