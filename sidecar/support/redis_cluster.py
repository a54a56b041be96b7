"""Start a real three-master Redis Cluster on free ports from the same `redis-server` as RedisServer.

Each master runs with `--cluster-enabled yes` (its node file in a temporary directory); the slots
are split in three with CLUSTER ADDSLOTS, the nodes joined with CLUSTER MEET, and `start()` waits
until every node reports `cluster_state:ok`. `close()` kills the processes by PID.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from pathlib import Path

from sidecar.support.redis_server import free_port, redis_binary

SLOTS = 16384
BUS_OFFSET = 10_000  # Redis 6 puts a node's cluster bus on port + 10000 (no cluster-port option before 7)


def cluster_port() -> int:
    """A free port whose bus port (port + 10000) is a valid port and free too."""
    for _ in range(200):
        port = free_port()
        if port + BUS_OFFSET > 65535:
            continue
        try:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", port + BUS_OFFSET))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair (port, port + 10000) for a cluster node")


def _command(port: int, *args: str, timeout: float = 5.0) -> bytes:
    """One RESP command to 127.0.0.1:port; the raw reply (enough for OK / bulk-string answers)."""
    payload = f"*{len(args)}\r\n".encode() + b"".join(f"${len(a.encode())}\r\n{a}\r\n".encode() for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        reply = b""
        while not reply.endswith(b"\r\n") or (reply.startswith(b"$") and reply.count(b"\r\n") < 2):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    if reply.startswith(b"-"):
        raise RuntimeError(f"redis :{port} {args[0]} {args[1] if len(args) > 1 else ''}: {reply.decode().strip()}")
    return reply


class RedisClusterServers:
    """`masters` cluster-enabled redis-server processes forming one cluster (no replicas)."""

    def __init__(self, masters: int = 3) -> None:
        self.ports = [cluster_port() for _ in range(masters)]
        self.procs: list[subprocess.Popen[bytes]] = []
        self._dir = tempfile.TemporaryDirectory(prefix="apex-redis-cluster-")

    @property
    def url(self) -> str:
        """A `redis+cluster://` URL (apex.mesh.bus.connect) naming the first node."""
        return f"redis+cluster://127.0.0.1:{self.ports[0]}/0"

    def start(self, timeout: float = 20.0) -> RedisClusterServers:
        try:
            for port in self.ports:
                self._spawn(port)
            for port in self.ports:
                self._wait_ping(port, timeout)
            share = -(-SLOTS // len(self.ports))
            for i, port in enumerate(self.ports):
                slots = [str(s) for s in range(i * share, min((i + 1) * share, SLOTS))]
                _command(port, "CLUSTER", "ADDSLOTS", *slots)
            for port in self.ports[1:]:
                _command(port, "CLUSTER", "MEET", "127.0.0.1", str(self.ports[0]))
            self._wait_ok(timeout)
        except BaseException:
            self.close()
            raise
        return self

    def _spawn(self, port: int) -> None:
        node_dir = Path(self._dir.name) / str(port)
        node_dir.mkdir()
        args = [
            redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(node_dir), "--daemonize", "no", "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000",
        ]  # fmt: skip
        self.procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def _wait_ping(self, port: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if _command(port, "PING", timeout=0.5).startswith(b"+PONG"):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"cluster node :{port} did not answer within {timeout}s")
            time.sleep(0.05)

    def _wait_ok(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            infos = [_command(port, "CLUSTER", "INFO") for port in self.ports]
            if all(b"cluster_state:ok" in i and b"cluster_known_nodes:%d" % len(self.ports) in i for i in infos):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"cluster not ok within {timeout}s: {infos[0][:200]!r}")
            time.sleep(0.1)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        self.procs = []
        self._dir.cleanup()

    def __enter__(self) -> RedisClusterServers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
