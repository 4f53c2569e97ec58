"""A SyncRun left "running" by a dead sync is marked aborted by the next sync.

The end-to-end case (a real sync killed with SIGKILL, then rerun) is in ``test_kill.py``;
here the rule itself, on the test database.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.models import SyncRun
from catalog.sync.service import ABANDONED_ERROR, SyncOptions, abort_abandoned_runs, run_sync
from tests.factories import make_sync_run
from tests.sync.test_reconcile import MemoryMlflow, MemoryS3

RUNS = 3


def sync(*, dry_run: bool = False):
    return run_sync(
        mlflow_source=MemoryMlflow(RUNS),
        s3_source=MemoryS3(RUNS),
        options=SyncOptions(dry_run=dry_run),
    )


def abandoned_run(*, hours_ago: float) -> SyncRun:
    started = timezone.now() - timedelta(hours=hours_ago)
    return make_sync_run(
        started_at=started, finished_at=None, status=SyncRun.Status.RUNNING, duration_s=None
    )


@pytest.mark.django_db
def test_the_next_sync_marks_every_run_left_running_as_aborted_before_its_own():
    finished = make_sync_run(started_at=timezone.now() - timedelta(days=1))
    older, newer = abandoned_run(hours_ago=5), abandoned_run(hours_ago=2)
    before = timezone.now()

    report = sync()

    assert report.status == "ok"
    for dead in (older, newer):
        dead.refresh_from_db()
        assert dead.status == SyncRun.Status.ABORTED
        assert dead.error == ABANDONED_ERROR
        assert before <= dead.finished_at <= timezone.now()
        assert f"sync {dead.pk} was aborted: {ABANDONED_ERROR}" in report.warnings
    # Its own row is newer than the ones it marked, and the finished one is untouched.
    own = SyncRun.objects.get(pk=report.sync_run_id)
    assert own.pk > newer.pk and own.status == SyncRun.Status.OK
    assert own.warnings[:2] == [f"sync {older.pk} was aborted: {ABANDONED_ERROR}",
                                f"sync {newer.pk} was aborted: {ABANDONED_ERROR}"]  # fmt: skip
    finished.refresh_from_db()
    assert (finished.status, finished.error) == (SyncRun.Status.OK, "")


@pytest.mark.django_db
def test_a_clean_history_marks_nothing_and_warns_nothing():
    sync()
    report = sync()
    assert not [warning for warning in report.warnings if "aborted" in warning]
    assert set(SyncRun.objects.values_list("status", flat=True)) == {SyncRun.Status.OK}
    assert abort_abandoned_runs(now=timezone.now()) == []


@pytest.mark.django_db
def test_a_dry_run_marks_nothing():
    # A dry run writes nothing at all; the next real sync makes the mark.
    dead = abandoned_run(hours_ago=1)
    sync(dry_run=True)
    dead.refresh_from_db()
    assert dead.status == SyncRun.Status.RUNNING
    sync()
    dead.refresh_from_db()
    assert dead.status == SyncRun.Status.ABORTED
