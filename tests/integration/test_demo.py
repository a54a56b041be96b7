"""`apex demo` end to end: the whole mesh runs, calls flow, telemetry arrives, the incident comes and
goes on the timeline, the forecaster forecasts and acts (the report lists it), and everything it
started is gone afterwards — unattended (--duration) and on Ctrl-C.

"Gone" is checked from outside, not from the demo's own count of stray processes (which leaves
out its Redis): while the demo runs, the test records its process tree (and every process
carrying a marker in its environment, which its children inherit) with each process's start
time and the TCP ports they listen on; after it exits none of those processes may be alive and
none of those ports may still be listening.

The mesh runs secured: the test also reads the demo's token files while it runs (they live in its
temporary directory, 0600) and checks that no token reached the output, the report or any process's
command line, that the control plane ran with --auth, and from summary.json that catalog and pricing
accepted calls only over mTLS from the frontend's identity and that the audit names the engines'
authenticated principals.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from tests.support.leftovers import cmdline, descendants, listening_ports, start_time, still_running, tag_env, tagged

APEX = [sys.executable, "-m", "sidecar", "demo"]


class Watched:
    """The demo as a subprocess, with the PIDs and listening ports of its process tree recorded."""

    def __init__(self, args: list[str], tmp_path: Path) -> None:
        self.env, self.tag = tag_env()
        (tmp_path / "tmp").mkdir()
        self.env["TMPDIR"] = str(tmp_path / "tmp")  # the demo's temp files (configs, logs) stay in the test's
        self.log_path = tmp_path / "demo.log"
        self.log: IO[str] = self.log_path.open("w")
        self.proc = subprocess.Popen([*APEX, *args], stdout=self.log, stderr=subprocess.STDOUT, text=True, env=self.env)
        self.seen: dict[int, tuple[int, str]] = {}  # pid -> (start time, command line)
        self.ports: set[int] = set()
        self.tmp = tmp_path / "tmp"
        self.tokens: dict[str, tuple[str, int]] = {}  # token file name -> (token, file mode)

    def sample(self) -> None:
        if self.proc.poll() is not None:
            return
        found = descendants(self.proc.pid) | set(tagged(self.tag))
        for pid in found:
            started = start_time(pid)
            if started is None:
                continue
            # Re-read the command line each time: a child caught between fork and exec still shows
            # its parent's (the demo's Redis was once recorded as a second `python -m sidecar demo`).
            # An exiting process reads as "": keep what was seen before.
            command = cmdline(pid) or self.seen.get(pid, (started, ""))[1]
            if self.seen.get(pid) != (started, command):
                self.seen[pid] = (started, command)
        self.ports |= listening_ports(found)
        for path in self.tmp.glob("apex-demo-*/secrets/*"):
            if path.name != "tokens.yaml" and path.name not in self.tokens:
                with contextlib.suppress(OSError):
                    self.tokens[path.name] = (path.read_text().strip(), path.stat().st_mode & 0o777)

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_for_line(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            assert self.proc.poll() is None, f"demo exited early:\n{self.output()[-3000:]}"
            assert time.monotonic() < deadline, f"no {text!r} in time:\n{self.output()[-3000:]}"
            self.sample()
            time.sleep(0.5)

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            assert time.monotonic() < deadline, "demo did not exit in time"
            self.sample()
            time.sleep(0.5)
        return self.proc.returncode

    def kill(self) -> None:
        """Clean up after a failed test: the demo and anything carrying its marker."""
        if self.proc.poll() is None:
            self.proc.kill()
        for pid in {*tagged(self.tag), *still_running(self.seen)}:  # started by this test's demo
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(10)
        self.log.close()

    def assert_nothing_left(self) -> None:
        """No process of the demo's tree survives it, and no port it listened on is still bound."""
        commands = [cmd for _, cmd in self.seen.values()]
        assert self.ports, f"no listening port seen for the demo's processes {commands}: the scan saw nothing"
        assert any(cmd.split()[0].endswith("redis-server") for cmd in commands if cmd), f"no Redis among {commands}"
        deadline = time.monotonic() + 3.0  # a process the demo already signalled may take a moment to exit
        while (left := {**still_running(self.seen), **tagged(self.tag)}) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert left == {}, f"processes left running after the demo exited: {left}"
        bound = self.ports & listening_ports()
        assert not bound, f"ports still listening after the demo exited: {sorted(bound)} (of {sorted(self.ports)})"


def test_demo_runs_unattended_and_an_engine_acts(tmp_path: Path) -> None:
    report = tmp_path / "report"
    args = ["--duration", "30", "--period", "24", "--peak", "25", "--incident-at", "12", "--incident-for", "8"]
    demo = Watched([*args, "--report-dir", str(report)], tmp_path)
    try:
        code = demo.wait(240)
        assert code == 0, demo.output()[-3000:]
        demo.assert_nothing_left()
    finally:
        demo.kill()
    summary = json.loads((report / "summary.json").read_text())
    assert summary["ok"] > 100
    # Retries and ejection absorb the flaky catalog: few of its UNAVAILABLEs reach the caller. (Calls
    # that miss their 2 s deadline when a loaded machine starves the processes are not the mesh's doing.)
    assert summary["error_codes"].get("UNAVAILABLE", 0) <= summary["sent"] * 0.05, summary["error_codes"]
    assert summary["errors"] == sum(summary["error_codes"].values())
    assert summary["telemetry_windows"] > 30
    assert summary["engine_actions"], "no engine action was applied"
    assert any("forecaster" in a and "cache TTL 5s -> 10s" in a for a in summary["engine_actions"])
    assert summary["stray_processes"] == []
    assert [text.split(":")[0] for _, text in summary["incidents"]] == ["incident started", "incident ended"]
    (started, _), (ended, _) = summary["incidents"]
    assert 12 <= started < ended and ended >= 20  # sent on the dashboard's 1 s tick, never early
    events = summary["engine_events"]
    assert summary["forecast_shown"] and events["prediction"] >= 1 and events["action"] >= 1, events
    text = (report / "REPORT.md").read_text()
    assert "engine actions applied" in text and "demo.png" in text
    assert re.search(r"\| 1\d \| incident started: catalog-2 flaky", text) and "| 10 | day 1: midday peak |" in text
    assert "forecast (model" in text  # `apex forecast show --service frontend`'s output
    actions = text.split("## Preventive actions (with their reasons): ")[1].split("##")[0]
    assert "frontend applied: " in actions and "cache TTL 5s -> 10s (cache[pricing-quote].ttl)" in actions, actions
    assert "## Anomalies raised" in text and "## Tuner decisions" in text
    tuner = text.split("## Tuner decisions: ")[1]
    assert events["tuner"] >= 1 and "frontend tune.canary v" in tuner, tuner  # a change tried on a canary first
    assert any(" tuner@apex-demo: tuner: canary of " in a for a in summary["engine_actions"])  # audited as the tuner
    _assert_secured(demo, summary, [report / "REPORT.md", report / "summary.json"])
    for png in ("demo.png", "forecast-frontend.png"):
        assert (report / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (report / png).stat().st_size > 10_000


FRONTEND_ID = "spiffe://cluster.local/ns/default/sa/frontend"


def _assert_secured(demo: Watched, summary: dict[str, Any], reports: list[Path]) -> None:
    """mTLS between the sidecars with identities from the CA, the engines authenticated, no token leaked."""
    assert summary["security"] == "mtls"
    commands = [cmd for _, cmd in demo.seen.values()]
    control = [cmd for cmd in commands if " control-plane " in cmd]
    assert control and all("--auth " in c and "--ca-dir " in c and "--insecure" not in c for c in control), control
    assert "INSECURE" not in demo.output()
    # Every sidecar holds a certificate from the CA naming its service; catalog and pricing let in only
    # the frontend's identity, over mTLS: no plaintext call, none refused.
    peers = summary["peers"]
    assert sorted(peers) == ["catalog-1", "catalog-2", "frontend-1", "pricing-1"], peers
    for instance, status in peers.items():
        service = instance.rsplit("-", 1)[0]
        assert status["identity"] == f"spiffe://cluster.local/ns/default/sa/{service}"
        assert status["certificate"]["generation"] >= 1 and status["certificate"]["identity"] == status["identity"]
        inbound = status["listeners"]["inbound"]
        if service == "frontend":  # called by the load generator, not a workload: plaintext
            assert inbound["mode"] == "disable" and status["outbound_handshake_failures"] == {}, status
            continue
        assert inbound["mode"] == "strict" and list(inbound["principals"]) == [FRONTEND_ID], inbound
        assert inbound["accepted"] == {"mtls": inbound["principals"][FRONTEND_ID]} and inbound["rejected"] == {}
        assert inbound["principals"][FRONTEND_ID] > 0
    # The engines' changes are audited under their authenticated principals, not what they claim.
    assert summary["audit_authors"] == {"forecaster": ["forecaster@apex-demo"], "tuner": ["tuner@apex-demo"]}
    text = reports[0].read_text()
    assert "## Peers" in text and f"inbound (strict): {FRONTEND_ID} " in text
    # Six random tokens (three services' join tokens, two engines', the operator's), each in a 0600
    # file; none in the output, the report, summary.json or any process's command line.
    assert sorted(demo.tokens) == ["engine-forecaster", "engine-tuner", "join-catalog", "join-frontend",
                                   "join-pricing", "operator"], demo.tokens  # fmt: skip
    outputs = [demo.output(), *(r.read_text() for r in reports), *commands]
    for name, (token, mode) in demo.tokens.items():
        assert mode == 0o600 and len(token) >= 32, (name, oct(mode))
        assert not any(token in out for out in outputs), f"the {name} token leaked"


def test_ctrl_c_stops_everything_and_writes_the_report(tmp_path: Path) -> None:
    report = tmp_path / "report"
    demo = Watched(["--period", "60", "--report-dir", str(report)], tmp_path)
    try:
        demo.wait_for_line("frontend reachable", 120)  # load is flowing
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            demo.sample()
            time.sleep(0.5)
        demo.proc.send_signal(signal.SIGINT)
        assert demo.wait(60) == 0, demo.output()[-3000:]
        demo.assert_nothing_left()
    finally:
        demo.kill()
    summary = json.loads((report / "summary.json").read_text())
    assert summary["ok"] > 0 and summary["stray_processes"] == []
    assert (report / "REPORT.md").exists()
