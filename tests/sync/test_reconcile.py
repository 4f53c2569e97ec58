"""Reconcile fed in-memory record streams: the fail-safe's edges, in isolation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Artifact, Experiment, MetricPoint, Run
from catalog.sync.mlflow_source import MlflowSourceError
from catalog.sync.records import ArtifactRecord, ExperimentRecord, MetricRecord, RunRecord
from catalog.sync.service import SyncOptions, run_sync

MODIFIED = datetime(2026, 1, 1, tzinfo=UTC)


class MemoryMlflow:
    def __init__(self, runs: int, *, fail_runs_after: int | None = None) -> None:
        self.runs = runs
        self.fail_runs_after = fail_runs_after
        self.metric_history_calls = 0

    def iter_experiments(self):
        yield ExperimentRecord(experiment_id="1", name="e", artifact_location="s3://b/1")

    def iter_runs(self, *, experiment_ids):
        for index in range(self.runs):
            if self.fail_runs_after is not None and index == self.fail_runs_after:
                raise MlflowSourceError("reading runs: page 2 timed out")
            yield RunRecord(
                run_id=f"run{index:04d}",
                experiment_id="1",
                artifact_uri=f"s3://b/1/run{index:04d}/artifacts",
                metrics=(MetricRecord(key="m", value=1.0, step=1, timestamp=5),),
            )

    def metric_history(self, *, run_id, key):
        self.metric_history_calls += 1
        return [MetricRecord(key=key, value=1.0, step=1, timestamp=5)]

    def iter_logged_models(self, *, experiment_ids):
        return iter(())

    def iter_registered_models(self):
        return iter(())

    def iter_model_versions(self):
        return iter(())


class MemoryS3:
    def __init__(self, runs: int) -> None:
        self.runs = runs

    def iter_root(self, *, root):
        for index in range(self.runs):
            yield ArtifactRecord(
                bucket="b", key=f"1/run{index:04d}/artifacts/a.txt", size=3, etag="e",
                last_modified=MODIFIED,
            )  # fmt: skip

    def read_head(self, *, bucket, key, max_bytes):
        raise AssertionError("no content to read here")


def sync(mlflow, s3, **options):
    return run_sync(mlflow_source=mlflow, s3_source=s3, options=SyncOptions(**options))


@pytest.mark.django_db
def test_a_short_mlflow_listing_keeps_what_it_read_and_marks_nothing():
    assert sync(MemoryMlflow(10), MemoryS3(10)).status == "ok"
    report = sync(MemoryMlflow(10, fail_runs_after=4), MemoryS3(10))
    assert report.status == "partial"
    assert report.as_dict()["counts"]["runs"]["unchanged"] == 4
    assert not Run.objects.filter(missing_since__isnull=False).exists()
    # Artifacts of runs not re-listed stay owned: their runs were not declared gone.
    assert Artifact.objects.filter(run__isnull=True).count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(("kept", "status", "marked"), [(8, "ok", 2), (7, "partial", 0)])
def test_the_missing_share_threshold(kept, status, marked):
    sync(MemoryMlflow(10), MemoryS3(10))
    report = sync(MemoryMlflow(kept), MemoryS3(kept), max_missing_share=0.2)
    assert report.status == status
    assert report.as_dict()["counts"]["runs"]["missing"] == marked
    assert Run.objects.filter(missing_since__isnull=False).count() == marked
    assert Experiment.objects.get().run_count == 10 - marked


@pytest.mark.django_db
def test_history_is_read_once_per_change():
    mlflow = MemoryMlflow(3)
    sync(mlflow, MemoryS3(3))
    assert mlflow.metric_history_calls == 3
    again = MemoryMlflow(3)
    sync(again, MemoryS3(3))
    assert again.metric_history_calls == 0


@pytest.mark.django_db
def test_a_first_sync_deletes_no_points_of_the_runs_it_creates():
    with CaptureQueriesContext(connection) as first:
        sync(MemoryMlflow(3), MemoryS3(3))
    deletes = [q["sql"] for q in first.captured_queries if q["sql"].startswith("DELETE")]
    assert not [sql for sql in deletes if "catalog_metricpoint" in sql]
    assert MetricPoint.objects.count() == 3


class InfiniteHistoryMlflow(MemoryMlflow):
    """Run 0's latest "m" is +inf; its history also holds -inf and NaN."""

    def iter_runs(self, *, experiment_ids):
        for index, record in enumerate(super().iter_runs(experiment_ids=experiment_ids)):
            if index == 0:
                inf = MetricRecord(key="m", value=float("inf"), step=3, timestamp=7)
                record = RunRecord(
                    run_id=record.run_id,
                    experiment_id=record.experiment_id,
                    artifact_uri=record.artifact_uri,
                    metrics=(inf,),
                )
            yield record

    def metric_history(self, *, run_id, key):
        points = super().metric_history(run_id=run_id, key=key)
        if run_id == "run0000":
            points += [
                MetricRecord(key=key, value=float("-inf"), step=2, timestamp=6),
                MetricRecord(key=key, value=float("nan"), step=3, timestamp=7),
            ]
        return points


@pytest.mark.django_db
def test_non_finite_metrics_are_stored_empty_with_one_warning_on_their_run():
    report = sync(InfiniteHistoryMlflow(2), MemoryS3(2))
    assert report.status == "ok"
    named = [warning for warning in report.all_warnings() if "NaN or infinite" in warning]
    assert named == ["run run0000: metric 'm' holds NaN or infinite values, stored as empty"]
    assert Run.objects.get(run_id="run0000").metrics == {"m": None}
    values = sorted(
        MetricPoint.objects.filter(run__run_id="run0000").values_list("value", flat=True),
        key=lambda value: value is None,
    )
    assert values == [1.0, None, None]
    # A re-sync reads no history, and warns again: the value is still in MLflow.
    again = sync(InfiniteHistoryMlflow(2), MemoryS3(2))
    assert [w for w in again.all_warnings() if "NaN or infinite" in w] == named


class HostileErrorMlflow(MemoryMlflow):
    def iter_experiments(self):
        raise MlflowSourceError("reading experiments: server said 'bad\x00name'")


@pytest.mark.django_db
def test_a_failed_sync_records_an_error_that_quotes_a_nul():
    from catalog.models import SyncRun

    report = sync(HostileErrorMlflow(1), MemoryS3(1))
    assert report.status == "failed"
    recorded = SyncRun.objects.get(pk=report.sync_run_id)
    assert recorded.status == "failed"
    assert recorded.error == "reading experiments: server said 'bad\ufffdname'"
