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
from django.test.utils import CaptureQueriesContext

from catalog.models import Artifact, Run
from catalog.sync.artifacts.rows import ARTIFACT_INSERT_COLUMNS
from catalog.sync.bulk import (
    STAGED_MIN_ROWS,
    column_types,
    db_datetime,
    insert_instances,
    insert_rows,
    insert_table_rows,
    json_text,
    update_instances,
    update_rows,
)
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


def test_insert_rows_stores_json_text_as_json_and_every_type_as_given():
    run = make_run()
    meta = {"kind": "mlmodel", "flavors": ["sklearn"], "nested": {"n": [1, None, "tab\t"]}}
    rows = [
        (
            "bucket", f"e/{run.run_id}/artifacts/{name}", run.pk, None, name, "", "",
            2**40 + number, "etag", db_datetime(NOW + timedelta(seconds=number)),
            json_text(meta), "", "fingerprint", db_datetime(NOW), db_datetime(NOW),
        )
        for number, name in enumerate(("MLmodel", "ünïcode name.txt"))
    ]  # fmt: skip
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        insert_rows(model=Artifact, columns=ARTIFACT_INSERT_COLUMNS, rows=rows)
    stored = list(Artifact.objects.order_by("size"))
    assert [(row.path, row.size, row.last_modified) for row in stored] == [
        ("MLmodel", 2**40, NOW),
        ("ünïcode name.txt", 2**40 + 1, NOW + timedelta(seconds=1)),
    ]
    assert all(row.meta == meta and row.logged_model_id is None for row in stored)
    # Stored as a JSON object, not as a JSON string holding the text.
    assert Artifact.objects.filter(meta__kind="mlmodel").count() == 2
    if connection.vendor == "postgresql":
        assert any("FORMAT BINARY" in query["sql"] for query in queries.captured_queries)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's COPY formats")
def test_copy_falls_back_to_text_for_a_type_psycopg_cannot_send_in_binary():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bulk_money (id serial PRIMARY KEY, amount money, note text)")
    try:
        with connection.cursor() as cursor:
            assert column_types(cursor, table="bulk_money", columns=("amount", "note")) is None
            assert column_types(cursor, table="bulk_money", columns=("note",)) is not None
        with transaction.atomic():
            insert_table_rows(table="bulk_money", columns=("amount", "note"), rows=[("12.50", "x")])
        with connection.cursor() as cursor:
            cursor.execute("SELECT amount::numeric, note FROM bulk_money")
            assert [(str(amount), note) for amount, note in cursor.fetchall()] == [("12.50", "x")]
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE bulk_money")
