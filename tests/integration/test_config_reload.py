"""SIGHUP with hostile config files (issue 10.c/d): "reload rejected: …" in the log, the old policy keeps serving."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from pathlib import Path
from typing import Any

import grpc
import yaml
from apex.mesh.v1 import admin_pb2, admin_pb2_grpc, echo_pb2, echo_pb2_grpc

from sidecar.cli.sidecar_cmd import Reloader
from sidecar.config import bootstrap as bootstrap_file
from sidecar.examples.echo import BackgroundEcho
from sidecar.runtime.sidecar import Sidecar
from tests.support.sidecar_proc import SidecarProcess, proxy_config


def _versioned(echo: BackgroundEcho, version: str) -> dict[str, Any]:
    config = proxy_config(echo.address)
    config["policy"]["version"] = version
    return config


def _wait_for(proc: SidecarProcess, text: str, count: int) -> None:
    deadline = time.monotonic() + 30
    while proc.log().count(text) < count:
        assert time.monotonic() < deadline, f"{text!r} not logged {count} times:\n{proc.log()}"
        assert proc.proc is not None and proc.proc.poll() is None, proc.log()
        time.sleep(0.05)


def test_sighup_with_bad_files_is_rejected_and_the_old_policy_keeps_serving(echo: BackgroundEcho) -> None:
    good = yaml.safe_dump(_versioned(echo, "v1"))
    slow_dns = _versioned(echo, "v2")
    slow_dns["policy"]["clusters"][0]["dns_refresh"] = "99999999999999999999s"
    bad_files = {
        "nested": b"node: " + b"{a: " * 5000 + b"1" + b"}" * 5000 + b"\n",
        "duration": yaml.safe_dump(slow_dns).encode(),
        "utf8": good.encode() + b"# \xff\n",
        "duplicate": (good + "admin: {address: '127.0.0.1:0'}\n").encode(),
        "address": good.replace(echo.address, "999.1.1.1:15011").encode(),
        "size": (good + "# " + "x" * 1_100_000 + "\n").encode(),
    }  # fmt: skip
    with SidecarProcess(_versioned(echo, "v1")) as proc:
        channel = grpc.insecure_channel(proc["admin"])
        out = grpc.insecure_channel(proc["outbound"])
        try:
            admin = admin_pb2_grpc.AdminStub(channel)
            for n, (case, content) in enumerate(bad_files.items(), start=1):
                proc.config_path.write_bytes(content)
                assert proc.proc is not None
                proc.proc.send_signal(signal.SIGHUP)
                _wait_for(proc, "reload rejected", n)
                assert admin.GetStats(admin_pb2.GetStatsRequest(), timeout=5).policy_version == "v1", case
                reply = echo_pb2_grpc.EchoStub(out).Unary(echo_pb2.EchoRequest(payload=b"x"), timeout=5)
                assert reply.payload == b"x"
            log = proc.log()
            assert "Traceback" not in log and "Exception in callback" not in log, log
            assert f"reload rejected, keeping policy version 'v1': {proc.config_path}: " in log
            for reason in ("nest", "longer than the maximum duration", "not UTF-8", "duplicate key 'admin'",
                           "'999.1.1.1' is not a valid IPv4 address", "over the limit of 1048576 bytes"):  # fmt: skip
                assert reason in log, reason
            proc.config_path.write_text(yaml.safe_dump(_versioned(echo, "v3")))
            proc.proc.send_signal(signal.SIGHUP)
            _wait_for(proc, "reloaded policy version 'v3'", 1)
        finally:
            channel.close()
            out.close()


def test_a_reload_parses_off_the_event_loop(echo: BackgroundEcho, tmp_path: Path) -> None:
    """While a large file is parsed, other tasks on the loop keep running (calls keep flowing)."""
    config = _versioned(echo, "v1")
    path = tmp_path / "sidecar.yaml"
    path.write_text(yaml.safe_dump(config))
    message, model = bootstrap_file.load(path)
    sidecar = Sidecar(message, model, str(path))
    config["policy"]["version"] = "v2"
    clusters = config["policy"]["clusters"]
    clusters += [{"name": f"c{i}", "endpoints": [{"address": echo.address}]} for i in range(2000)]
    path.write_text(yaml.safe_dump(config))

    async def scenario() -> tuple[bool, int]:
        ticks = 0
        done = False

        async def ticker() -> None:
            nonlocal ticks
            while not done:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        start = ticks
        ok = await Reloader(sidecar, str(path)).reload()
        during = ticks - start
        done = True
        await task
        return ok, during

    ok, during = asyncio.run(scenario())
    assert ok and sidecar.policy.version == "v2"
    assert during > 1, "the event loop did not run anything while the file was read and parsed"


def test_calls_keep_flowing_while_a_large_file_is_reloaded(echo: BackgroundEcho) -> None:
    """Calls complete between the SIGHUP and the end of the reload (a blocking parse lets none through)."""
    config = _versioned(echo, "small")
    with SidecarProcess(config) as proc:
        big = _versioned(echo, "big")
        big["policy"]["clusters"] += [
            {"name": f"c{i}", "endpoints": [{"address": echo.address}], "authority": f"svc{i}.internal"}
            for i in range(9000)
        ]
        text = yaml.safe_dump(big)
        assert 500_000 < len(text) < 1 << 20  # large, but under the default limit
        done: list[float] = []
        stop = threading.Event()

        def traffic() -> None:
            with grpc.insecure_channel(proc["outbound"]) as channel:
                stub = echo_pb2_grpc.EchoStub(channel)
                while not stop.is_set():
                    stub.Unary(echo_pb2.EchoRequest(payload=b"x"), timeout=30)
                    done.append(time.monotonic())

        thread = threading.Thread(target=traffic)
        thread.start()
        try:
            while len(done) < 20:  # traffic is flowing
                time.sleep(0.01)
            proc.config_path.write_text(text)
            assert proc.proc is not None
            sent = time.monotonic()
            proc.proc.send_signal(signal.SIGHUP)
            _wait_for(proc, "reloaded policy version 'big'", 1)
            finished = time.monotonic()
        finally:
            stop.set()
            thread.join()
        during = [t for t in done if sent < t < finished]
        assert len(during) >= 20, f"only {len(during)} calls completed during the reload"
