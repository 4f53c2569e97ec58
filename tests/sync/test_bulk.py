"""The sync's bulk writes (catalog.sync.bulk), on whichever database the suite runs on.

On PostgreSQL, big update batches and the creates of mirrored rows go through a staging
table (COPY, then one statement); elsewhere they are executemany / bulk_create. Either
way the rows written, the pks handed back, and what a bad row leaves behind must be
the same.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from catalog.models import Run
from catalog.sync.bulk import STAGED_MIN_ROWS, insert_instances, update_instances, update_rows
from tests.factories import NOW, make_experiment, make_run

pytestmark = pytest.mark.django_db(transaction=True)


def unsaved_runs(count: int) -> list[Run]:
    experiment = make_experiment()
    runs = []
    for number in random.Random(7).sample(range(count), count):  # not in key order
        runs.append(
            Run(
                run_id=f"run-{number:04d}",
                experiment=experiment,
                name=f"run {number}",
                status="FINISHED",
                start_time=NOW + timedelta(seconds=number),
                params={"depth": str(number), "nested": {"list": [number, None]}},
                metrics={"accuracy": number / count},
                tags={"note": "ünïcode, tab\tand newline\n"},
                artifact_count=number,
                first_seen=NOW,
                last_seen=NOW,
            )
        )
    return runs


def test_insert_instances_sets_each_pk_to_its_own_row():
    runs = unsaved_runs(120)
    with transaction.atomic():
        insert_instances(model=Run, instances=runs, batch_size=50)
    stored = {run.pk: run for run in Run.objects.all()}
    assert len(stored) == 120
    for run in runs:
        assert not run._state.adding
        row = stored[run.pk]
        assert row.run_id == run.run_id
        assert row.params == run.params
        assert row.tags == run.tags
        assert row.start_time == run.start_time
        assert row.artifact_count == run.artifact_count


def test_insert_instances_with_a_duplicate_key_writes_nothing():
    existing = make_run(run_id="run-0003")
    runs = unsaved_runs(60)  # run-0003 again
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_instances(model=Run, instances=runs, batch_size=60)
    assert list(Run.objects.values_list("run_id", flat=True)) == [existing.run_id]
    assert all(run.pk is None for run in runs)


@pytest.mark.parametrize("count", [STAGED_MIN_ROWS - 1, STAGED_MIN_ROWS, 3 * STAGED_MIN_ROWS])
def test_update_rows_writes_exactly_the_given_rows(count):
    runs = [make_run(artifact_count=1, artifact_bytes=10) for _ in range(count + 5)]
    changed = runs[:count]
    update_rows(
        model=Run,
        columns=("artifact_count", "artifact_bytes"),
        rows=[(run.pk * 2, run.pk * 1000, run.pk) for run in changed],
    )
    stored = dict(Run.objects.values_list("pk", "artifact_count"))
    bytes_ = dict(Run.objects.values_list("pk", "artifact_bytes"))
    for run in changed:
        assert (stored[run.pk], bytes_[run.pk]) == (run.pk * 2, run.pk * 1000)
    for run in runs[count:]:
        assert (stored[run.pk], bytes_[run.pk]) == (1, 10)


@pytest.mark.parametrize("count", [3, STAGED_MIN_ROWS + 10])
def test_update_instances_writes_the_fields_as_bulk_update_would(count):
    runs = [make_run(params={"old": "1"}) for _ in range(count + 2)]
    changed = runs[:count]
    for number, run in enumerate(changed):
        run.params = {"depth": str(number), "nested": {"list": [number, None]}}
        run.tags = {"note": "tab\tand newline\n"}
        run.start_time = NOW + timedelta(hours=number)
        run.missing_since = NOW
        run.name = "x" * 10  # not among the fields: stays as stored
    fields = ("params", "tags", "start_time", "missing_since")
    update_instances(model=Run, instances=changed, fields=fields)
    stored = {run.pk: run for run in Run.objects.all()}
    for run in changed:
        row = stored[run.pk]
        assert (row.params, row.tags, row.start_time, row.missing_since) == (
            run.params,
            run.tags,
            run.start_time,
            NOW,
        )
        assert row.name != run.name
    for run in runs[count:]:
        assert stored[run.pk].params == {"old": "1"}
        assert stored[run.pk].missing_since is None


def test_a_bad_row_fails_its_batch_and_the_next_batch_goes_through():
    runs = [make_run(artifact_count=1) for _ in range(STAGED_MIN_ROWS + 10)]
    rows = [(5, 0, run.pk) for run in runs]
    rows[-1] = (-1, 0, runs[-1].pk)  # a positive integer column: the CHECK refuses it
    with pytest.raises(IntegrityError), transaction.atomic():
        update_rows(model=Run, columns=("artifact_count", "artifact_bytes"), rows=rows)
    assert set(Run.objects.values_list("artifact_count", flat=True)) == {1}
    # Nothing of the failed batch is left behind (on PostgreSQL: no staging table).
    rows[-1] = (5, 0, runs[-1].pk)
    with transaction.atomic():
        update_rows(model=Run, columns=("artifact_count", "artifact_bytes"), rows=rows)
    assert set(Run.objects.values_list("artifact_count", flat=True)) == {5}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'staging_%%'")
            assert cursor.fetchone()[0] == 0
