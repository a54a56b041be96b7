"""Reading CPU time, peak RSS and children from /proc."""

from __future__ import annotations

import os
import subprocess
import sys

from benchmarks import procstat

# A child that spins until it has used `seconds` of CPU, allocates `mb` MB, reports its own CPU
# time (os.times: the kernel's utime + stime by another route than /proc), then waits for stdin.
SPIN = """
import os, sys, time
seconds, mb = float(sys.argv[1]), int(sys.argv[2])
block = bytearray(mb * 1024 * 1024)
for i in range(0, len(block), 4096):
    block[i] = 1  # touch every page so it is resident
while time.process_time() < seconds:
    pass
t = os.times()
print(t.user + t.system, flush=True)
sys.stdin.read()
"""


def test_cpu_and_peak_rss_of_a_known_cpu_burn() -> None:
    """A child that burns 0.2 s of CPU must read 0.2 s (±30 ms: clock ticks are 10 ms) and hold
    its 64 MB allocation in its peak RSS: reading the wrong /proc fields cannot pass this."""
    child = subprocess.Popen(
        [sys.executable, "-c", SPIN, "0.2", "64"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        reported = float(child.stdout.readline())
        found = procstat.usage(child.pid)
    finally:
        child.communicate("", timeout=30)
    assert found is not None
    assert 0.18 <= reported < 1.0  # the spin ran (os.times counts in 10 ms ticks; start-up adds a little)
    assert abs(found.cpu_s - reported) <= 0.03, (found.cpu_s, reported)
    assert found.peak_rss_kb >= found.rss_kb >= 64 * 1024, found
    assert procstat.usage(child.pid) is None  # gone (reaped)


def test_usage_of_a_gone_process_is_none() -> None:
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
