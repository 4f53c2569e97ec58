"""Where the suite's time goes: each test's start and end, per xdist worker, in a file.

pytest's ``--durations`` sums a test's own phases but says nothing of how the workers
were kept busy: a run whose workers idle while one finishes a long test is slow for
another reason than a run of many slow tests. Each worker (or a run without xdist)
appends one JSON line per test to ``timeline-<worker>.jsonl`` in the run's base temp
dir: its node id, when its set-up started and its teardown ended (seconds since the
epoch), the seconds of each phase, and the CPU seconds it cost (the worker's, and its
subprocesses' that ended meanwhile). On a machine shared with other work, wall times
stretch with the load and CPU seconds much less: compare runs by CPU.
``python -m tests.timeline [RUN_DIR]`` sums them per worker: busy and CPU seconds, the
idle tail after each worker's last test, and the slowest tests with what they cost.

With ``--timeline`` the same summary is printed at the end of the run.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pytest

FILE_PREFIX = "timeline-"


def pytest_addoption(parser):
    parser.addoption(
        "--timeline",
        action="store_true",
        help="print each xdist worker's busy time and idle tail at the end (tests/timeline.py)",
    )


def run_directory(config) -> Path:
    """The run's base temp dir, shared by its xdist workers (each has a popen-gwN in it)."""
    base = config._tmp_path_factory.getbasetemp()
    return base.parent if _worker_id(config) != "master" else base


def _worker_id(config) -> str:
    return getattr(config, "workerinput", {}).get("workerid", "master")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    started, cpu_before = time.time(), _cpu_seconds()
    phases: dict[str, float] = {}
    item._timeline_phases = phases
    yield
    line = {
        "test": item.nodeid,
        "start": started,
        "end": time.time(),
        "cpu": round(_cpu_seconds() - cpu_before, 3),
        **{phase: round(seconds, 3) for phase, seconds in phases.items()},
    }
    path = run_directory(item.config) / f"{FILE_PREFIX}{_worker_id(item.config)}.jsonl"
    with open(path, "a") as handle:
        handle.write(json.dumps(line) + "\n")


def _cpu_seconds() -> float:
    """CPU seconds of this process and of its children that have been waited for."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    yield
    phases = getattr(item, "_timeline_phases", None)
    if phases is not None:
        phases[call.when] = call.duration


def pytest_terminal_summary(terminalreporter, config):
    if config.getoption("--timeline") and _worker_id(config) == "master":
        terminalreporter.write(summary(run_directory(config)))


def summary(run_dir: Path, *, slowest: int = 25) -> str:
    """Busy time and idle tail per worker, and the slowest tests, from ``run_dir``'s files."""
    tests: list[dict] = []
    workers: dict[str, list[dict]] = defaultdict(list)
    for path in sorted(run_dir.glob(f"{FILE_PREFIX}*.jsonl")):
        worker = path.stem.removeprefix(FILE_PREFIX)
        for line in path.read_text().splitlines():
            record = json.loads(line)
            workers[worker].append(record)
            tests.append({**record, "worker": worker})
    if not tests:
        return f"\nno timeline in {run_dir}\n"
    first = min(t["start"] for t in tests)
    last = max(t["end"] for t in tests)
    out = [f"\ntimeline of {len(tests)} tests: first start to last end {last - first:.0f} s"]
    total = total_cpu = 0.0
    for worker, records in sorted(workers.items()):
        busy = sum(r["end"] - r["start"] for r in records)
        cpu = sum(r.get("cpu", 0) for r in records)
        total, total_cpu = total + busy, total_cpu + cpu
        finished = max(r["end"] for r in records)
        out.append(
            f"  {worker}: {len(records)} tests, busy {busy:.0f} s, CPU {cpu:.0f} s, "
            f"idle tail {last - finished:.0f} s"
        )
    out.append(f"  sum of test seconds {total:.0f} s, of their CPU seconds {total_cpu:.0f} s")
    out.append(f"slowest {slowest} (wall, CPU, setup / call / teardown, s):")
    for record in sorted(tests, key=lambda t: t["start"] - t["end"])[:slowest]:
        out.append(
            f"  {record['end'] - record['start']:6.1f} {record.get('cpu', 0):5.1f}  "
            f"{record.get('setup', 0):5.1f} "
            f"{record.get('call', 0):5.1f} {record.get('teardown', 0):5.1f}  "
            f"{record['worker']} @{record['start'] - first:4.0f}s  {record['test']}"
        )
    return "\n".join(out) + "\n"


def _latest_run_dir() -> Path:
    # Where pytest puts a run's base temp dir unless --basetemp says otherwise.
    temproot = os.environ.get("PYTEST_DEBUG_TEMPROOT") or tempfile.gettempdir()
    root = Path(temproot) / f"pytest-of-{getpass.getuser()}"
    runs = sorted(root.glob("pytest-*"), key=lambda path: path.stat().st_mtime)
    return runs[-1]


if __name__ == "__main__":
    sys.stdout.write(summary(Path(sys.argv[1]) if len(sys.argv) > 1 else _latest_run_dir()))
