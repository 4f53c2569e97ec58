"""Syncs with the artifact writer process, run as a script on a scratch database.

``python -m tests.sync.writer_scenarios SCENARIO DATABASE_URL LOCK_PATH`` prints one JSON
line. The writer process needs a database another process can see, committed: not the
test's transaction nor an in-memory SQLite database, so ``test_writer.py`` runs these
in subprocesses. The world is the benchmark's synthetic one (in-memory record streams),
small, with batches of 500 so a sync hands the writer several. A sync scenario then
syncs the world again with a tenth of its runs changed (new ETags on all their files),
so updates, and updates with re-read content, go through the writer too.

Scenarios: ``in_place`` (no writer process), ``process`` (every batch to the process),
``killed`` (the writer process is killed after taking its second batch),
``unstartable`` (the writer process fails in its set-up), ``duplicate`` (the writer is
handed a row whose key is already catalogued).
"""

from __future__ import annotations

import json
import os
import signal
import sys

from benchmarks.config import WorldSize

SIZE = WorldSize(
    experiments=3,
    runs=300,
    files_per_run=10,
    orphans=20,
    registered_models=10,
    logged_models=5,
    metric_history_runs=0,
)
BATCH_SIZE = 500
CHANGE_SHARE = 0.1


def setup_django(*, database_url: str, lock_path: str) -> None:
    """Set Django up in this script's process, on ``database_url``, with its own lock."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="smartmaint_site.settings",
        DJANGO_INSECURE_DEV_KEY="1",
        DJANGO_SECURE="0",
        DATABASE_URL=database_url,
        CATALOG_SYNC_LOCK_PATH=lock_path,
    )
    import django

    django.setup()


def main(scenario: str, database_url: str, lock_path: str) -> dict:
    setup_django(database_url=database_url, lock_path=lock_path)
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    if scenario == "duplicate":
        return _duplicate_key()
    return _sync(scenario)


def _sync(scenario: str) -> dict:
    from benchmarks.memory_sources import MemoryMlflowSource, MemoryS3Source
    from benchmarks.world import World
    from catalog.models import Artifact
    from catalog.sync.artifacts import writer
    from catalog.sync.service import SyncOptions, run_sync

    handed = []
    if scenario == "killed":
        write = writer.ArtifactWriter.write

        def write_then_kill(self, writes):
            write(self, writes)
            if self.batches_in_process:
                handed.append(writes.rows)
            if len(handed) == 2:
                # Once it is set up: a process killed in its set-up ran no batch, and
                # the sync writes them itself (the "unstartable" scenario).
                self._ready.result(timeout=120)
                for process in self._pool._processes.values():
                    os.kill(process.pid, signal.SIGKILL)

        writer.ArtifactWriter.write = write_then_kill

    if scenario == "unstartable":
        writer._start_writer_process = _failing_start

    world = World(SIZE)
    options = SyncOptions(
        batch_size=BATCH_SIZE,
        writer_process_min_rows=0 if scenario == "in_place" else 1,
        parse_process_min_batch=0,
    )

    def sync(generation: int):
        sources = {"generation": generation, "change_share": CHANGE_SHARE}
        return run_sync(
            mlflow_source=MemoryMlflowSource(world, **sources),
            s3_source=MemoryS3Source(world, **sources),
            options=options,
        )

    report = sync(0)
    changed = sync(1) if report.status == "ok" else None
    rows = Artifact.objects.order_by("bucket", "key").values_list(
        "bucket", "key", "run__run_id", "logged_model__model_id", "path", "folder",
        "orphan_folder", "size", "etag", "meta", "meta_etag", "fingerprint", "missing_since",
    )  # fmt: skip
    return {
        "status": report.status,
        "error": report.error,
        "artifacts": report.as_dict()["counts"]["artifacts"],
        "rows_written_by_writer_process": report.rows_written_by_writer_process,
        "batches_handed_before_the_kill": handed,
        "changed": None
        if changed is None
        else {
            "status": changed.status,
            "artifacts": changed.as_dict()["counts"]["artifacts"],
            "rows_written_by_writer_process": changed.rows_written_by_writer_process,
        },
        "artifact_rows": [[str(value) for value in row] for row in rows],
    }


def _failing_start(*args) -> None:
    """A writer process set-up that fails, as one without the __main__ guard would."""
    raise RuntimeError("no set-up for you")


def bare_artifact_row(key: str) -> tuple:
    """A new orphan artifact in bucket "b" as the writer inserts it (Django set up)."""
    from django.utils import timezone

    from catalog.sync.bulk import db_datetime, json_text

    now = db_datetime(timezone.now())
    return ("b", key, None, None, key, "", "", 1, "e", now, json_text({}), "", "f", now, now)


def _duplicate_key() -> dict:
    from django.db import IntegrityError

    from catalog.sync.artifacts.writer import ArtifactWriter, ArtifactWrites

    row = bare_artifact_row
    outcome = {}
    with ArtifactWriter(process_min_rows=1) as artifact_writer:
        artifact_writer.write(
            ArtifactWrites(creates=[row("a"), row("b")], updates=[], meta_updates=[])
        )
        artifact_writer.write(
            ArtifactWrites(creates=[row("c"), row("a")], updates=[], meta_updates=[])
        )
        try:
            artifact_writer.finish()
        except IntegrityError as error:
            outcome["error"] = f"{type(error).__name__}: {error}"
        outcome["batches_in_process"] = artifact_writer.batches_in_process
        outcome["rows_written_in_process"] = artifact_writer.rows_written_in_process
    from catalog.models import Artifact

    outcome["keys"] = sorted(Artifact.objects.values_list("key", flat=True))
    return outcome


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
