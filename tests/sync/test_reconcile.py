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
        self.history_asked: list[list[str]] = []  # the runs of each call, one list a call

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

    def metric_histories(self, *, run_ids, key):
        self.metric_history_calls += 1
        self.history_asked.append(sorted(run_ids))
        return {run_id: self.history(run_id=run_id, key=key) for run_id in run_ids}

    def history(self, *, run_id, key):
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
    # One call for the one key, asking for the three new runs at once.
    assert mlflow.history_asked == [["run0000", "run0001", "run0002"]]
    assert mlflow.metric_history_calls == 1
    assert MetricPoint.objects.count() == 3
    again = MemoryMlflow(3)
    sync(again, MemoryS3(3))
    assert again.metric_history_calls == 0


class TwoKeyMlflow(MemoryMlflow):
    """Runs with metrics "a" and "b"; a call that asks for run ``poisoned`` fails."""

    def __init__(self, runs: int, *, poisoned: str | None = None, **kwargs) -> None:
        super().__init__(runs, **kwargs)
        self.poisoned = poisoned

    def iter_runs(self, *, experiment_ids):
        for record in super().iter_runs(experiment_ids=experiment_ids):
            yield RunRecord(
                run_id=record.run_id,
                experiment_id=record.experiment_id,
                artifact_uri=record.artifact_uri,
                metrics=(
                    MetricRecord(key="b", value=2.0, step=1, timestamp=5),
                    MetricRecord(key="a", value=1.0, step=1, timestamp=5),
                ),
            )

    def metric_histories(self, *, run_ids, key):
        if self.poisoned in run_ids:
            self.history_asked.append(sorted(run_ids))
            raise MlflowSourceError(f"metric history of {key}: HTTP 500")
        return super().metric_histories(run_ids=run_ids, key=key)

    def history(self, *, run_id, key):
        return [
            MetricRecord(key=key, value=0.5, step=0, timestamp=4),
            MetricRecord(key=key, value=1.0, step=1, timestamp=5),
        ]


def stored_points(run_id: str) -> list[tuple]:
    rows = MetricPoint.objects.filter(run__run_id=run_id).order_by("pk")
    return list(rows.values_list("key", "step", "timestamp", "value"))


@pytest.mark.django_db
def test_histories_are_asked_per_key_for_up_to_100_changed_runs_at_once():
    mlflow = TwoKeyMlflow(250)
    assert sync(mlflow, MemoryS3(250)).status == "ok"
    # Batches of 100, 100 and 50 changed runs; each key asked once per batch.
    assert [len(run_ids) for run_ids in mlflow.history_asked] == [100, 100, 100, 100, 50, 50]
    assert mlflow.metric_history_calls == 6
    # Each run's points in the order of its metrics, as one run's reads would give them.
    expected = [("b", 0, 4, 0.5), ("b", 1, 5, 1.0), ("a", 0, 4, 0.5), ("a", 1, 5, 1.0)]
    assert stored_points("run0000") == stored_points("run0249") == expected
    assert MetricPoint.objects.count() == 250 * 4


@pytest.mark.django_db
def test_a_run_the_source_cannot_read_costs_only_its_own_history():
    mlflow = TwoKeyMlflow(5, poisoned="run0002")
    report = sync(mlflow, MemoryS3(5))
    assert report.status == "ok"
    assert [w for w in report.all_warnings() if "metric history" in w] == [
        "run run0002: metric history not read: metric history of b: HTTP 500"
    ]
    # The batch's call failed, then each run was asked alone; "a" was not asked of the
    # run whose "b" failed.
    assert mlflow.history_asked[0] == [f"run000{i}" for i in range(5)]
    assert ["run0002"] in mlflow.history_asked
    assert mlflow.history_asked[-1] == ["run0000", "run0001", "run0003", "run0004"]
    assert stored_points("run0002") == []
    assert len(stored_points("run0004")) == 4
    assert Run.objects.get(run_id="run0002").metrics_signature == ""

    # The next sync asks again for that run only, and stores its points.
    again = TwoKeyMlflow(5)
    assert sync(again, MemoryS3(5)).status == "ok"
    assert again.history_asked == [["run0002"], ["run0002"]]
    assert len(stored_points("run0002")) == 4
    assert Run.objects.get(run_id="run0002").metrics_signature != ""


@pytest.mark.django_db
def test_a_listing_that_breaks_off_keeps_the_histories_of_the_runs_before_it():
    mlflow = TwoKeyMlflow(10, fail_runs_after=4)
    report = sync(mlflow, MemoryS3(10))
    assert report.status == "partial"
    assert mlflow.history_asked == [[f"run000{i}" for i in range(4)]] * 2
    assert sorted(Run.objects.values_list("run_id", flat=True)) == [f"run000{i}" for i in range(4)]
    assert MetricPoint.objects.count() == 4 * 4


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

    def history(self, *, run_id, key):
        points = super().history(run_id=run_id, key=key)
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
