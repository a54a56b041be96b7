"""Reading CPU time, peak RSS and children from /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from benchmarks import procstat


def test_usage_of_this_process_and_of_a_gone_one() -> None:
    start = procstat.usage(os.getpid())
    assert start is not None
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:  # burn a little CPU so the counter moves
        pass
    after = procstat.usage(os.getpid())
    assert after is not None and after.cpu_s >= start.cpu_s
    assert after.peak_rss_kb >= after.rss_kb > 0
    assert procstat.usage(2**22 + 12345) is None


def test_children_lists_a_started_child() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in procstat.children(os.getpid())
    finally:
        child.kill()
        child.wait()


def test_machine_description_names_cores_cpu_and_versions() -> None:
    m = procstat.machine({"nginx": None})
    assert m["cores"] == os.cpu_count()
    assert m["cpu_model"]
    assert m["python"] == sys.version.split()[0]
    assert m["libraries"]["grpcio"]
    assert m["tools"] == {"nginx": None}
