"""The artifact writer process: same rows as writing in place; failures fail the sync.

The scenarios run in subprocesses on scratch databases (``writer_scenarios.py`` says
why); the in-place rules are checked here, on the test database.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from catalog.models import Artifact
from catalog.sync.artifacts.rows import (
    ARTIFACT_INSERT_COLUMNS,
    ARTIFACT_META_UPDATE_COLUMNS,
    ARTIFACT_TABLE,
)
from catalog.sync.artifacts.writer import ArtifactWriter, ArtifactWrites, can_write_in_process
from tests.sync.writer_scenarios import SIZE, bare_artifact_row

ROOT = Path(__file__).resolve().parents[2]


def _scenario(name: str, database_url: str, tmp_path: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "tests.sync.writer_scenarios", name, database_url,
         str(tmp_path / f"{name}.lock")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def in_place(scratch_databases, tmp_path_factory) -> dict:
    """The scenarios' syncs with every batch written in place, to compare with: the
    same every time, so run once."""
    database_url = scratch_databases.new()
    try:
        return _scenario("in_place", database_url, tmp_path_factory.mktemp("in-place"))
    finally:
        scratch_databases.drop(database_url)


def test_the_writer_names_the_artifact_table_and_its_columns():
    # writer.py may not import the model (the writer process imports it before set-up).
    columns = {field.column for field in Artifact._meta.concrete_fields}
    assert Artifact._meta.db_table == ARTIFACT_TABLE
    assert set(ARTIFACT_INSERT_COLUMNS) <= columns
    assert set(ARTIFACT_META_UPDATE_COLUMNS) <= columns


@pytest.mark.django_db
def test_inside_a_transaction_batches_are_written_in_place():
    # The test runs in a transaction a writer process could not see into.
    assert not can_write_in_process()
    with ArtifactWriter(process_min_rows=1) as writer:
        writer.write(
            ArtifactWrites(
                creates=[bare_artifact_row("x"), bare_artifact_row("y")],
                updates=[],
                meta_updates=[],
            )
        )
        assert sorted(Artifact.objects.values_list("key", flat=True)) == ["x", "y"]
    assert writer.batches_in_process == 0


@pytest.mark.slow
def test_the_writer_process_writes_what_an_in_place_sync_writes(
    in_place, scratch_database_url, tmp_path
):
    in_process = _scenario("process", scratch_database_url, tmp_path)

    assert in_place["status"] == in_process["status"] == "ok"
    assert in_place["rows_written_by_writer_process"] == 0
    # Every artifact row went through the process, in batches of 500.
    assert in_process["rows_written_by_writer_process"] == in_process["artifacts"]["created"]
    assert in_process["artifacts"]["created"] == len(in_process["artifact_rows"]) == SIZE.artifacts
    assert in_process["artifacts"] == in_place["artifacts"]
    # The second sync: a tenth of the runs changed, their files updated through the
    # process, MLmodel and feature files with their content read again.
    changed = in_process["changed"]
    assert changed["status"] == in_place["changed"]["status"] == "ok"
    assert changed["artifacts"] == in_place["changed"]["artifacts"]
    assert changed["artifacts"]["updated"] >= SIZE.runs // 10 * SIZE.files_per_run
    assert changed["rows_written_by_writer_process"] == changed["artifacts"]["updated"]
    assert in_place["changed"]["rows_written_by_writer_process"] == 0
    assert in_process["artifact_rows"] == in_place["artifact_rows"]


@pytest.mark.slow
def test_a_killed_writer_process_fails_the_sync_and_the_next_sync_heals(
    in_place, scratch_database_url, tmp_path
):
    killed = _scenario("killed", scratch_database_url, tmp_path)
    assert killed["status"] == "failed"
    assert killed["error"].startswith("WriterProcessDied: the artifact writer process")
    # Killed after its second batch; the sync may hand over one more before the pool
    # notices the death (the pool's own thread reports it, on a busy machine later).
    assert len(killed["batches_handed_before_the_kill"]) in (2, 3)
    # What the process confirmed before it died is kept; the rest was never written.
    assert len(killed["artifact_rows"]) < SIZE.artifacts

    rerun = _scenario("process", scratch_database_url, tmp_path)
    assert rerun["status"] == "ok"
    assert rerun["artifact_rows"] == in_place["artifact_rows"]


@pytest.mark.slow
def test_a_writer_process_that_never_starts_leaves_the_writing_to_the_sync(
    in_place, scratch_database_url, tmp_path
):
    unstarted = _scenario("unstartable", scratch_database_url, tmp_path)

    assert unstarted["status"] == "ok"
    assert unstarted["rows_written_by_writer_process"] == 0
    assert unstarted["artifact_rows"] == in_place["artifact_rows"]


@pytest.mark.slow
def test_a_failed_batch_in_the_writer_process_raises_its_error(scratch_database_url, tmp_path):
    outcome = _scenario("duplicate", scratch_database_url, tmp_path)

    assert outcome["error"].startswith("IntegrityError")
    assert outcome["batches_in_process"] == 2
    # The first batch committed; the failed one rolled back whole ("c" is not there).
    assert outcome["rows_written_in_process"] == 2
    assert outcome["keys"] == ["a", "b"]
