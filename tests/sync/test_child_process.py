"""``child_process_pool``: its worker dies with its parent, and only then.

Each case runs a small parent script in a subprocess, kills it with SIGKILL, and
watches the worker it started (its pid printed before the kill).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from catalog.sync.child_process import EXIT_PARENT_GONE

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

# A parent that starts a pool (on its main thread, or on a thread that then ends), has
# the worker run a task after that, prints the worker's pid and waits to be killed.
PARENT = """
import os, sys, threading, time
from catalog.sync.child_process import child_process_pool

if __name__ == "__main__":
    pools = []
    if sys.argv[1] == "main-thread":
        pools.append(child_process_pool())
    else:
        def make():
            pools.append(child_process_pool())
            pools[0].submit(os.getpid).result(timeout=60)  # set up while this thread lives

        maker = threading.Thread(target=make)
        maker.start()
        maker.join()
        time.sleep(1)  # a death signal tied to that thread would have fired by now
    print(pools[0].submit(os.getpid).result(timeout=60), flush=True)
    time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    state = next(line for line in status.splitlines() if line.startswith("State:"))
    return state.split()[1] not in ("Z", "X")


def _kill_parent_and_time_the_worker(thread: str) -> float:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, thread],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    worker = 0
    try:
        line = parent.stdout.readline()
        assert line, "the worker died under its living parent (its task never answered)"
        worker = int(line)
        assert _alive(worker)
    finally:
        parent.kill()
        parent.wait(timeout=30)
        parent.stdout.close()
    killed_at = time.monotonic()
    while _alive(worker) and time.monotonic() - killed_at < 10:
        time.sleep(0.02)
    gone_after = time.monotonic() - killed_at
    if _alive(worker):
        os.kill(worker, signal.SIGKILL)  # this test's own leftover
        pytest.fail(f"worker {worker} outlived its parent by 10 s")
    return gone_after


def test_a_worker_started_on_the_main_thread_dies_with_its_parent():
    _kill_parent_and_time_the_worker("main-thread")


def test_a_worker_started_on_a_thread_that_ended_lives_on_and_still_dies_with_its_parent():
    # It answered a task after its spawning thread ended (the death signal, tied to
    # that thread, is not used), and the watchdog ends it once the parent is gone.
    gone_after = _kill_parent_and_time_the_worker("short-thread")
    assert gone_after < 5


def test_a_child_whose_parent_is_already_gone_exits_at_once():
    # Told to watch a parent it does not have, as when its parent died before the check.
    result = subprocess.run(
        [sys.executable, "-c",
         "import os\nfrom catalog.sync.child_process import die_with_parent\n"
         "die_with_parent(parent_pid=os.getppid() + 1)\nimport time; time.sleep(30)"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=20,
    )  # fmt: skip
    assert result.returncode == EXIT_PARENT_GONE
