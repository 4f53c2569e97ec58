"""Totals are recomputed unless the last sync finished and this one wrote nothing."""

from __future__ import annotations

import pytest

from catalog.models import Experiment, Run, SyncRun
from catalog.sync.service import SyncOptions, run_sync
from tests.sync.test_reconcile import MemoryMlflow, MemoryS3

RUNS = 6


def sync(messages: list[str] | None = None, *, runs: int = RUNS):
    progress = messages.append if messages is not None else None
    return run_sync(
        mlflow_source=MemoryMlflow(runs),
        s3_source=MemoryS3(runs),
        options=SyncOptions(progress=progress),
    )


def recomputed(messages: list[str]) -> bool:
    return "recomputing totals" in messages


@pytest.mark.django_db
def test_a_sync_that_wrote_nothing_after_a_finished_sync_skips_the_totals():
    first: list[str] = []
    assert sync(first).status == "ok"
    assert recomputed(first)
    second: list[str] = []
    assert sync(second).status == "ok"
    assert not recomputed(second)
    assert "recomputing totals: skipped, this sync wrote nothing" in second
    experiment = Experiment.objects.get()
    assert (experiment.run_count, experiment.artifact_count) == (RUNS, RUNS)


@pytest.mark.django_db
def test_a_sync_that_wrote_rows_recomputes_the_totals():
    sync()
    messages: list[str] = []
    assert sync(messages, runs=RUNS + 1).status == "ok"
    assert recomputed(messages)
    experiment = Experiment.objects.get()
    assert (experiment.run_count, experiment.artifact_count) == (RUNS + 1, RUNS + 1)


@pytest.mark.django_db
@pytest.mark.parametrize("status", [SyncRun.Status.RUNNING, SyncRun.Status.FAILED])
def test_after_a_sync_that_died_the_totals_are_recomputed_even_if_nothing_changed(status):
    sync()
    # A sync killed between its writes and its totals: rows in, totals stale, and its
    # SyncRun left "running" (SIGKILL) or "failed" (an exception).
    Experiment.objects.update(run_count=99, artifact_count=99)
    Run.objects.update(artifact_count=0)
    SyncRun.objects.filter(pk=SyncRun.objects.latest("pk").pk).update(status=status)
    messages: list[str] = []
    assert sync(messages).status == "ok"
    assert recomputed(messages)
    experiment = Experiment.objects.get()
    assert (experiment.run_count, experiment.artifact_count) == (RUNS, RUNS)
    assert set(Run.objects.values_list("artifact_count", flat=True)) == {1}


@pytest.mark.django_db
def test_a_dry_run_is_not_taken_for_a_finished_sync():
    sync()
    Experiment.objects.update(run_count=99)
    SyncRun.objects.update(status=SyncRun.Status.RUNNING)
    run_sync(
        mlflow_source=MemoryMlflow(RUNS),
        s3_source=MemoryS3(RUNS),
        options=SyncOptions(dry_run=True),
    )
    messages: list[str] = []
    sync(messages)
    assert recomputed(messages)
    assert Experiment.objects.get().run_count == RUNS
