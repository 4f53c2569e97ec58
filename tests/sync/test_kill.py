"""A sync killed with SIGKILL: its child processes die with it, the next sync heals.

The sync runs in a subprocess (``kill_harness.py``) on a scratch database and kills
itself at a checkpoint, after its writer and parse processes have started and done
work: no timer, no race. The harness records their pids just before the kill.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from catalog.sync.service import ABANDONED_ERROR
from tests.sync import kill_harness
from tests.sync.writer_scenarios import SIZE

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# How long a killed sync's children may outlive it: the watchdog polls every 0.5 s, the
# kernel's death signal is immediate; the rest is slack for a loaded machine.
CHILDREN_GONE_WITHIN_S = 10


def _harness(mode: str, database_url: str, tmp_path: Path) -> tuple[int, str, str]:
    """Run the harness; its exit code, stdout and stderr.

    Its output goes to files, not pipes: children left behind by a killed sync would
    hold a pipe open, and reading it would wait for them instead of failing the test.
    """
    out, err = tmp_path / f"{mode}.out", tmp_path / f"{mode}.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        returncode = subprocess.run(
            [sys.executable, "-m", "tests.sync.kill_harness", mode, database_url,
             str(tmp_path / "sync.lock"), str(tmp_path / "pids.json")],
            cwd=ROOT,
            stdout=stdout,
            stderr=stderr,
            timeout=300,
        ).returncode  # fmt: skip
    return returncode, out.read_text(), err.read_text()


def _outcome(mode: str, database_url: str, tmp_path: Path) -> dict:
    returncode, stdout, stderr = _harness(mode, database_url, tmp_path)
    assert returncode == 0, stderr
    return json.loads(stdout.strip().splitlines()[-1])


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie, dead and not yet reaped, does not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = next(line for line in status.splitlines() if line.startswith("State:"))
    return state.split()[1] not in ("Z", "X")


def _wait_until_gone(pids: list[int], *, within_s: float) -> list[int]:
    deadline = time.monotonic() + within_s
    alive = [pid for pid in pids if _alive(pid)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [pid for pid in alive if _alive(pid)]
    return alive


def _wait_for_the_lock(database_url: str, tmp_path: Path, *, within_s: float = 10) -> None:
    """Wait until the killed sync's lock is released (by the kernel, or by the server).

    PostgreSQL drops an advisory lock when its session ends, and the server notices a
    killed client's closed socket on its own time: a rerun started before then would
    exit at once as "locked".
    """
    deadline = time.monotonic() + within_s
    while True:
        if database_url.startswith("sqlite:///"):
            held = _file_lock_held(tmp_path / "sync.lock")
        else:
            held = _advisory_locks(database_url) > 0
        if not held:
            return
        assert time.monotonic() < deadline, "the killed sync's lock was not released"
        time.sleep(0.05)


def _file_lock_held(path: Path) -> bool:
    descriptor = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        return False
    finally:
        os.close(descriptor)


def _advisory_locks(database_url: str) -> int:
    import psycopg

    base, _, name = database_url.rpartition("/")
    admin_url = f"{base}/postgres".replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        return admin.execute(
            "SELECT COUNT(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
            " WHERE l.locktype = 'advisory' AND l.granted AND d.datname = %s",
            [name],
        ).fetchone()[0]


def test_a_killed_sync_leaves_no_process_and_the_next_sync_heals(
    scratch_database_url, django_db_reset_sequences, tmp_path
):
    returncode, _stdout, stderr = _harness("killed", scratch_database_url, tmp_path)
    assert returncode == -signal.SIGKILL, stderr
    children = json.loads((tmp_path / "pids.json").read_text())
    # The writer process and the parse process were running when the sync died.
    assert len(children["spawned"]) == 2, children
    assert set(children["spawned"]) <= set(children["pids"])

    still_alive = _wait_until_gone(children["pids"], within_s=CHILDREN_GONE_WITHIN_S)
    for pid in still_alive:  # this test's own leftovers: not left to run on
        os.kill(pid, signal.SIGKILL)
    assert still_alive == [], f"outlived the killed sync: {still_alive}"

    _wait_for_the_lock(scratch_database_url, tmp_path)
    rerun = _outcome("sync", scratch_database_url, tmp_path)
    # Nothing recorded the death: the SyncRun said "running" until this sync.
    before = rerun["before"]
    assert [run["status"] for run in before["sync_runs"]] == ["running"]
    assert 0 < len(before["artifact_rows"]) < SIZE.artifacts

    assert rerun["status"] == "ok", rerun["error"]
    abandoned, latest = rerun["sync_runs"]
    assert abandoned == {
        "id": before["sync_runs"][0]["id"],
        "status": "aborted",
        "error": ABANDONED_ERROR,
        "finished": True,
    }
    assert latest["status"] == "ok"

    # The clean sync of the same world, into the test's own empty database, here (its
    # ids start at 1, as in a fresh database: fingerprints hold foreign keys).
    assert kill_harness.sync(child_processes=False).status == "ok"
    clean = kill_harness.state()
    assert len(rerun["artifact_rows"]) == SIZE.artifacts
    assert rerun["artifact_rows"] == clean["artifact_rows"]
    # The totals were recomputed over the rows the killed sync left.
    assert rerun["totals"] == clean["totals"]
