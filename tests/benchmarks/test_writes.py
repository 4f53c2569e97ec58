"""The write counter that proves a no-change sync writes nothing."""

from django.db import transaction

from benchmarks.writes import count_writes
from catalog.models import Experiment, MetricPoint, Run
from catalog.sync.bulk import STAGED_MIN_ROWS, insert_rows, update_rows
from catalog.sync.stages.mlflow_entities import METRIC_POINT_COLUMNS
from tests.factories import make_experiment, make_run


def test_counts_inserted_updated_and_deleted_rows_by_table(db):
    with count_writes() as writes:
        experiment = make_experiment()
        make_run(experiment=experiment)
        make_run(experiment=experiment)
        Experiment.objects.filter(pk=experiment.pk).update(notes="x")
        Experiment.objects.bulk_create(
            [
                Experiment(
                    experiment_id=str(900 + i),
                    name=f"e{i}",
                    first_seen=experiment.first_seen,
                    last_seen=experiment.last_seen,
                )
                for i in range(3)
            ]
        )
    assert writes.rows["catalog_experiment"] == 1 + 1 + 3
    assert writes.rows["catalog_run"] == 2
    assert writes.catalogue_rows() == 7


def test_reads_are_not_writes(db):
    make_experiment()
    with count_writes() as writes:
        list(Experiment.objects.all())
    assert writes.catalogue_rows() == 0
    assert writes.queries == 1


def test_bulk_writes_are_counted_once_on_either_database(db):
    """COPY's rows count (metric points on PostgreSQL); a staging table's do not, since
    the statement that moves them into their table counts them."""
    runs = [make_run() for _ in range(STAGED_MIN_ROWS)]
    points = [(runs[0].pk, "loss", step, 1_700_000_000_000, 0.5) for step in range(7)]
    with count_writes() as writes, transaction.atomic():
        insert_rows(model=MetricPoint, columns=METRIC_POINT_COLUMNS, rows=points)
        update_rows(
            model=Run, columns=("artifact_count",), rows=[(3, run.pk) for run in runs]
        )  # staged on PostgreSQL: COPY into a staging table, then one UPDATE
    assert dict(writes.rows) == {"catalog_metricpoint": 7, "catalog_run": STAGED_MIN_ROWS}
    assert MetricPoint.objects.count() == 7
