"""The write counter that proves a no-change sync writes nothing."""

from benchmarks.writes import count_writes
from catalog.models import Experiment
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
