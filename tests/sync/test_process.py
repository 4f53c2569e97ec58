"""Real processes: the lock between two of them, and a sync killed with SIGKILL.

Each test works on a scratch database of its own (a SQLite file, or a PostgreSQL
database next to the test database), since the subprocesses can't see the test's
transaction.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.sync.catalog_state import catalog_state

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

DUMP_STATE = (
    "import json\nfrom tests.sync.catalog_state import catalog_state\n"
    "print(json.dumps(catalog_state(), sort_keys=True))"
)


def _env(world, database_url: str, lock_path: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_TEST_NAME", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DATABASE_URL=database_url,
        CATALOG_SYNC_LOCK_PATH=str(lock_path),
        DJANGO_INSECURE_DEV_KEY="1",
        DJANGO_SECURE="0",
    )
    if world is not None:
        env.update(MLFLOW_TRACKING_URI=world.tracking_uri, MLFLOW_S3_ENDPOINT_URL=world.endpoint)
    return env


def _manage(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _state(env: dict[str, str]) -> dict:
    result = _manage("shell", "--no-imports", "-c", DUMP_STATE, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


class _RowCounter:
    """Counts a table's rows in a database another process writes, on one connection."""

    def __init__(self, database_url: str):
        self.database_url = database_url
        self.db = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        if self.db is not None:
            self.db.close()

    def count(self, table: str) -> int:
        try:
            if self.db is None:
                self.db = self._connect()
            return self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        except Exception:  # noqa: BLE001 - the table may be locked for a moment
            if self.db is not None:
                self.db.close()
                self.db = None
            return 0

    def _connect(self):
        if self.database_url.startswith("sqlite:///"):
            import sqlite3

            return sqlite3.connect(self.database_url[len("sqlite:///") :], timeout=0.2)
        import psycopg

        return psycopg.connect(
            self.database_url.replace("postgres://", "postgresql://"), autocommit=True
        )


def test_lock_between_processes_dies_with_its_holder(scratch_database_url, tmp_path):
    # No world: a sync that finds the lock held exits before it reads any source.
    env = _env(None, scratch_database_url, tmp_path / "sync.lock")
    holder = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "shell",
            "--no-imports",
            "-c",
            "from catalog.sync.lock import sync_lock\nimport time\n"
            "lock = sync_lock(); lock.__enter__(); print('locked', flush=True); time.sleep(120)",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        second = _manage("sync_registry", "--quiet", env=env)
        assert second.returncode == 75
        assert second.stderr.startswith("CommandError: another sync is running")
        assert len(second.stderr.strip().splitlines()) == 1
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    # The lock died with its holder: no stale lock to clean up, the next process takes
    # it. (The next test's rerun is a whole sync after a killed one.)
    take = "from catalog.sync.lock import sync_lock\nwith sync_lock():\n    print('locked')"
    after = _manage("shell", "--no-imports", "-c", take, env=env)
    assert after.returncode == 0, after.stderr
    assert after.stdout.strip() == "locked"


def test_killed_sync_then_rerun_equals_a_clean_sync(
    seed_world, scratch_database_url, sync_world, django_db_reset_sequences, tmp_path
):
    killed_env = _env(seed_world, scratch_database_url, tmp_path / "a.lock")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "sync_registry", "--quiet"],
        cwd=ROOT,
        env=killed_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with _RowCounter(scratch_database_url) as rows:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if rows.count("catalog_run") > 0:
                break
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL, "the sync ended before it was killed"
        assert rows.count("catalog_run") > 0
    # The lock died with the killed sync: the rerun runs. At -v 2, with a timestamped
    # INFO line per stage on stderr, as cron's mail shows it (and only JSON on stdout).
    rerun = _manage("sync_registry", "--json", "-v", "2", env=killed_env)
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["status"] == "ok"
    stage_line = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO catalog\.sync: runs done in "
    assert re.search(stage_line, rerun.stderr, re.MULTILINE), rerun.stderr
    killed_state = _state(killed_env)

    # The clean sync of the same world, into the test's own empty database: in this
    # process, which has MLflow imported already (a sync's start is most of its cost).
    # Fingerprints hold foreign keys: its ids start at 1 too, as in a fresh database.
    assert sync_world(seed_world).status == "ok"
    clean_state = catalog_state()
    assert killed_state["runs"] and killed_state["artifacts"]
    assert killed_state == clean_state
