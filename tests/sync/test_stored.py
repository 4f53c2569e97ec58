"""The catalogued rows read in listing order and merged with the listing (ADR 0013)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.models.functions import Lower

from catalog.models import Artifact
from catalog.sync.artifacts import stored
from catalog.sync.artifacts.stored import ListingMatch, StoredRows, prefix_upper_bound
from catalog.sync.records import ArtifactRecord, ExperimentRecord, RunRecord
from catalog.sync.service import SyncOptions, run_sync
from tests.sync.test_reconcile import MemoryMlflow

MODIFIED = datetime(2026, 1, 1, tzinfo=UTC)
# Code point order; a linguistic collation (en_US) would put "a" before "B" and
# ignore the "-" and "_" in its first pass.
KEYS_IN_ORDER = ["1/B/x", "1/a-b", "1/a_b", "1/ab", "1/é", "1/\u4e2d", "1/\U0001f600"]


def _row(pk: int, key: str, *, gone: bool = False) -> tuple:
    return (pk, key, f"fp{pk}", gone)


def test_a_listing_in_order_takes_each_row_and_leaves_the_unlisted():
    rows = [_row(1, "a"), _row(2, "b"), _row(3, "c"), _row(4, "d")]
    match = ListingMatch(iter(rows))
    assert match.take("a") == rows[0]
    assert match.take("aa") is None  # not catalogued
    assert match.take("c") == rows[2]
    assert match.take("e") is None
    assert list(match.unlisted()) == [rows[1], rows[3]]


def test_a_listing_out_of_order_is_matched_all_the_same():
    rows = [_row(pk, key) for pk, key in enumerate("abcdef", start=1)]
    match = ListingMatch(iter(rows))
    listed = ["f", "a", "x", "d", "b"]
    taken = {key: match.take(key) for key in listed}
    assert {key: row[0] if row else None for key, row in taken.items()} == {
        "f": 6,
        "a": 1,
        "x": None,
        "d": 4,
        "b": 2,
    }
    assert sorted(row[1] for row in match.unlisted()) == ["c", "e"]


def test_prefix_upper_bound():
    assert prefix_upper_bound("1/") == "10"
    assert prefix_upper_bound("") is None
    assert prefix_upper_bound("a\U0010ffff") is None
    assert prefix_upper_bound("a\ud7ff") == "a\ue000"
    for key in ("1/", "1/x", "1/\U0010ffff"):
        assert "1/" <= key < prefix_upper_bound("1/")
    for key in ("1", "10/x", "0/x", "2"):
        assert not ("1/" <= key < prefix_upper_bound("1/"))


def _artifact(key: str, *, bucket: str = "b", gone: bool = False) -> Artifact:
    return Artifact(
        bucket=bucket,
        key=key,
        path=key,
        fingerprint=f"fp:{key}",
        first_seen=MODIFIED,
        last_seen=MODIFIED,
        missing_since=MODIFIED if gone else None,
    )


@pytest.mark.django_db
def test_rows_come_in_code_point_order_page_by_page():
    # Inserted shuffled, other buckets and neighbouring prefixes beside them.
    keys = [*reversed(KEYS_IN_ORDER), "1", "10/x", "0/x", "1/gone"]
    Artifact.objects.bulk_create([_artifact(key, gone=key == "1/gone") for key in keys])
    Artifact.objects.bulk_create([_artifact("1/a-b", bucket="other")])
    rows = StoredRows(bucket="b", prefix="1/", page_rows=2)
    read = list(rows)
    assert [key for _, key, _, _ in read] == sorted([*KEYS_IN_ORDER, "1/gone"])
    assert sorted(KEYS_IN_ORDER) == KEYS_IN_ORDER
    assert [key for _, key, _, gone in read if gone] == ["1/gone"]
    assert rows.present == len(KEYS_IN_ORDER)
    assert read[0][2] == "fp:1/B/x"


@pytest.mark.django_db
def test_a_prefix_without_an_upper_bound_reads_only_its_own_rows():
    prefix = "1/\U0010ffff"
    Artifact.objects.bulk_create([_artifact(key) for key in (f"{prefix}/x", "2/x", "1/a")])
    assert [row[1] for row in StoredRows(bucket="b", prefix=prefix)] == [f"{prefix}/x"]


@pytest.mark.django_db
def test_a_database_out_of_code_point_order_stops_the_read(monkeypatch):
    Artifact.objects.bulk_create([_artifact(key) for key in ("1/B", "1/a")])
    monkeypatch.setattr(stored, "binary_key", lambda: Lower("key"))
    with pytest.raises(RuntimeError, match="out of code point order"):
        list(StoredRows(bucket="b", prefix="1/"))


@pytest.mark.django_db
def test_the_key_column_orders_by_code_point_on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's column collation")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT collation_name FROM information_schema.columns "
            "WHERE table_name = 'catalog_artifact' AND column_name = 'key'"
        )
        assert cursor.fetchone()[0] == "C"
        # The natural key's index serves the merge's reads: no sort of the bucket.
        sql, params = (
            Artifact.objects.filter(bucket="b")
            .annotate(ordered_key=stored.binary_key())
            .filter(ordered_key__gt="1/")
            .order_by("ordered_key")
            .values_list("pk")[:5]
            .query.sql_with_params()
        )
        cursor.execute("SET enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(line for (line,) in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
    assert "artifact_natural_key" in plan
    assert "Sort" not in plan


# --- the merge inside a sync ------------------------------------------------------------


class ListedS3:
    """The run's files, listed in S3's order unless told otherwise."""

    def __init__(self, names, *, order=sorted):
        self.keys = order(f"1/run0000/artifacts/{name}" for name in names)

    def iter_root(self, *, root):
        for key in self.keys:
            yield ArtifactRecord(bucket="b", key=key, size=1, etag="e", last_modified=MODIFIED)

    def read_head(self, *, bucket, key, max_bytes):
        raise AssertionError("no content to read here")


def _sync(names, *, order=sorted, **options):
    options = {"writer_process_min_rows": 0, **options}
    return run_sync(
        mlflow_source=MemoryMlflow(1),
        s3_source=ListedS3(names, order=order),
        options=SyncOptions(**options),
    ).as_dict()


NAMES = [f"f{index:03d}.bin" for index in range(40)]


@pytest.mark.django_db
def test_rows_a_sync_inserts_between_pages_are_not_taken_for_unlisted(monkeypatch):
    # Small pages and small batches: the sync writes new keys into the range that its
    # later pages read, between their reads. They were listed: none may count as missing.
    monkeypatch.setattr(stored, "PAGE_ROWS", 3)
    _sync(NAMES[::2])
    report = _sync(NAMES, batch_size=2)
    assert report["status"] == "ok"
    assert report["counts"]["artifacts"] == {
        "created": 20,
        "updated": 0,
        "unchanged": 20,
        "missing": 0,
        "restored": 0,
    }
    assert not Artifact.objects.filter(missing_since__isnull=False).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("order", [sorted, lambda keys: sorted(keys, reverse=True)])
def test_the_merge_marks_missing_and_restores_in_any_listing_order(monkeypatch, order):
    monkeypatch.setattr(stored, "PAGE_ROWS", 4)
    _sync(NAMES, order=order)
    gone = set(NAMES[5:9])
    report = _sync([name for name in NAMES if name not in gone], order=order)
    assert report["counts"]["artifacts"]["missing"] == 4
    assert report["counts"]["artifacts"]["unchanged"] == 36
    assert (
        set(Artifact.objects.filter(missing_since__isnull=False).values_list("path", flat=True))
        == gone
    )
    report = _sync(NAMES, order=order)
    assert report["counts"]["artifacts"]["restored"] == 4
    assert report["counts"]["artifacts"]["unchanged"] == 36
    assert not Artifact.objects.filter(missing_since__isnull=False).exists()


class NestedExperiments(MemoryMlflow):
    """Two experiments, the second's folder inside the first's."""

    def iter_experiments(self):
        yield ExperimentRecord(experiment_id="1", name="outer", artifact_location="s3://b/a")
        yield ExperimentRecord(experiment_id="2", name="inner", artifact_location="s3://b/a/z")

    def iter_runs(self, *, experiment_ids):
        for experiment_id, folder in (("1", "a"), ("2", "a/z")):
            yield RunRecord(
                run_id=f"r{experiment_id}",
                experiment_id=experiment_id,
                artifact_uri=f"s3://b/{folder}/r{experiment_id}/artifacts",
                metrics=(),
            )


class NestedS3:
    # In key order the inner experiment's files come last: in the outer walk's last batch.
    keys = sorted(
        [f"a/r1/artifacts/f{index}" for index in range(5)]
        + [f"a/z/r2/artifacts/f{index:02d}" for index in range(30)]
    )

    def iter_root(self, *, root):
        for key in self.keys:
            if key.startswith(root.prefix):
                yield ArtifactRecord(bucket="b", key=key, size=1, etag="e", last_modified=MODIFIED)

    def read_head(self, *, bucket, key, max_bytes):
        raise AssertionError("no content to read here")


@pytest.mark.django_db
def test_a_limited_sync_of_nested_folders_writes_each_key_once():
    # The inner walk lists keys the outer walk has just listed: it must read their
    # rows after the outer walk's batches are written, not insert them again.
    for _ in range(2):
        report = run_sync(
            mlflow_source=NestedExperiments(0),
            s3_source=NestedS3(),
            options=SyncOptions(experiment_ids=("1", "2"), batch_size=4, writer_process_min_rows=0),
        )
        assert report.status == "ok", report.error
    assert Artifact.objects.count() == 35
    assert not Artifact.objects.filter(run__isnull=True).exists()
