"""A sync that kills itself at a checkpoint, and the syncs after it, as a script.

``python -m tests.sync.kill_harness MODE DATABASE_URL LOCK_PATH PIDS_PATH`` prints one JSON
line (except ``killed``, which never returns). The world is ``writer_scenarios``' (the
benchmark's synthetic world, in-memory record streams, ~3,000 artifacts in batches of
500), synced with a writer process from the first batch and every flush's files parsed
in the parse process, so both child processes run.

Modes:

``killed``
    sync; when the writer process confirms its first batch
    (``checkpoints.WRITER_BATCH_CONFIRMED``: the parse process has parsed that batch's
    files by then), write every descendant of this process to PIDS_PATH (JSON:
    ``{"pids": [...], "spawned": [...]}``, ``spawned`` being the pool workers) and
    SIGKILL this process. No timer: the kill happens at that point, every time.
``sync``
    print the state, sync, and print the state after.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from tests.sync.writer_scenarios import BATCH_SIZE, SIZE, setup_django


def main(mode: str, database_url: str, lock_path: str, pids_path: str) -> dict:
    setup_django(database_url=database_url, lock_path=lock_path)
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    if mode == "killed":
        from catalog.sync import checkpoints

        checkpoints.on_checkpoint(
            checkpoints.WRITER_BATCH_CONFIRMED, lambda: _record_children_and_die(pids_path)
        )
    elif mode != "sync":
        raise SystemExit(f"unknown mode {mode!r}")
    before = state()
    report = sync(child_processes=True)
    return {"status": report.status, "error": report.error, "before": before, **state()}


def sync(*, child_processes: bool):
    """Sync the world; ``child_processes``: a writer and a parse process from the first
    batch (the writer only where it can see the database: not inside a transaction)."""
    from benchmarks.memory_sources import MemoryMlflowSource, MemoryS3Source
    from benchmarks.world import World
    from catalog.sync.service import SyncOptions, run_sync

    world = World(SIZE)
    options = SyncOptions(
        batch_size=BATCH_SIZE,
        writer_process_min_rows=1 if child_processes else 0,
        parse_process_min_batch=1 if child_processes else 0,
    )
    return run_sync(
        mlflow_source=MemoryMlflowSource(world), s3_source=MemoryS3Source(world), options=options
    )


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (children, their children ...), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended while we looked
        # The command name, in parentheses, may hold spaces: the fields follow its ")".
        parent = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return sorted(found)


def _is_pool_worker(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"spawn_main" in command


def _record_children_and_die(pids_path: str) -> None:
    pids = descendants(os.getpid())
    spawned = [pid for pid in pids if _is_pool_worker(pid)]
    Path(pids_path).write_text(json.dumps({"pids": pids, "spawned": spawned}))
    os.kill(os.getpid(), signal.SIGKILL)


def state() -> dict:
    from catalog.models import Artifact, Experiment, Run, SyncRun

    artifacts = Artifact.objects.order_by("bucket", "key").values_list(
        "bucket", "key", "run__run_id", "logged_model__model_id", "path", "folder",
        "orphan_folder", "size", "etag", "meta", "meta_etag", "fingerprint", "missing_since",
    )  # fmt: skip
    totals = [
        *Experiment.objects.order_by("experiment_id").values_list(
            "experiment_id", "run_count", "artifact_count", "artifact_bytes"
        ),
        *Run.objects.order_by("run_id").values_list("run_id", "artifact_count", "artifact_bytes"),
    ]
    sync_runs = SyncRun.objects.order_by("pk").values_list("pk", "status", "error", "finished_at")
    return {
        "artifact_rows": [[str(value) for value in row] for row in artifacts],
        "totals": [[str(value) for value in row] for row in totals],
        "sync_runs": [
            {"id": pk, "status": status, "error": error, "finished": finished is not None}
            for pk, status, error, finished in sync_runs
        ],
    }


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:5])))
