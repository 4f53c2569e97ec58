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

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

DUMP_STATE = """
import json
from catalog import models as m
def rows(model, *fields):
    out = []
    for obj in model.objects.all():
        out.append([str(getattr(obj, f)) if f.endswith(("_since", "experiment", "run")) else
                    getattr(obj, f) for f in fields])
    return sorted(out, key=json.dumps)
synced = ("fingerprint", "missing_since")
state = {
    "experiments": rows(m.Experiment, "experiment_id", "run_count", "artifact_count",
                        "artifact_bytes", *synced),
    "runs": rows(m.Run, "run_id", "experiment", "metrics", "metrics_signature", "params",
                 "artifact_count", "artifact_bytes", *synced),
    "points": rows(m.MetricPoint, "run", "key", "step", "timestamp", "value"),
    "models": rows(m.RegisteredModel, "name", "category", "latest_version", "aliases",
                   "experiment", *synced),
    "versions": rows(m.ModelVersion, "version", "artifact_prefix", "artifacts_present",
                     "aliases", "run", *synced),
    "artifacts": rows(m.Artifact, "bucket", "key", "run", "path", "folder", "orphan_folder",
                      "size", "etag", "meta", "meta_etag", *synced),
}
print(json.dumps(state, sort_keys=True))
"""


def _env(world, database_url: str, lock_path: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_TEST_NAME", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DATABASE_URL=database_url,
        MLFLOW_TRACKING_URI=world.tracking_uri,
        MLFLOW_S3_ENDPOINT_URL=world.endpoint,
        CATALOG_SYNC_LOCK_PATH=str(lock_path),
        DJANGO_INSECURE_DEV_KEY="1",
        DJANGO_SECURE="0",
    )
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


def _count_rows(database_url: str, table: str) -> int:
    try:
        if database_url.startswith("sqlite:///"):
            import sqlite3

            with sqlite3.connect(database_url[len("sqlite:///") :], timeout=0.2) as db:
                return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        import psycopg

        with psycopg.connect(database_url.replace("postgres://", "postgresql://")) as db:
            return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    except Exception:  # noqa: BLE001 - the table may be locked or not there yet
        return 0


def test_lock_between_processes_dies_with_its_holder(seed_world, scratch_database_url, tmp_path):
    env = _env(seed_world, scratch_database_url, tmp_path / "sync.lock")
    assert _manage("migrate", "-v0", env=env).returncode == 0
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
    # The lock died with its holder: no stale lock to clean up.
    after = _manage("sync_registry", "--quiet", env=env)
    assert after.returncode == 0, after.stderr
    # -v 2: a timestamped INFO line per stage on stderr, as cron's mail shows it.
    verbose = _manage("sync_registry", "-v", "2", env=env)
    assert verbose.returncode == 0, verbose.stderr
    stage_line = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO catalog\.sync: runs done in "
    assert re.search(stage_line, verbose.stderr, re.MULTILINE), verbose.stderr


def test_killed_sync_then_rerun_equals_a_clean_sync(
    seed_world, scratch_database_url, second_scratch_database_url, tmp_path
):
    killed_env = _env(seed_world, scratch_database_url, tmp_path / "a.lock")
    assert _manage("migrate", "-v0", env=killed_env).returncode == 0
    process = subprocess.Popen(
        [sys.executable, "manage.py", "sync_registry", "--quiet"],
        cwd=ROOT,
        env=killed_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if _count_rows(scratch_database_url, "catalog_run") > 0:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL, "the sync ended before it was killed"
    assert _count_rows(scratch_database_url, "catalog_run") > 0
    rerun = _manage("sync_registry", "--json", env=killed_env)
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["status"] == "ok"

    clean_url = second_scratch_database_url
    clean_env = _env(seed_world, clean_url, tmp_path / "b.lock")
    assert _manage("migrate", "-v0", env=clean_env).returncode == 0
    assert _manage("sync_registry", "--quiet", env=clean_env).returncode == 0
    killed_state, clean_state = _state(killed_env), _state(clean_env)
    assert killed_state["runs"] and killed_state["artifacts"]
    assert killed_state == clean_state
