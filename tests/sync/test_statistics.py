"""PostgreSQL: a sync that changed many rows refreshes the planner's statistics."""

from __future__ import annotations

import pytest
from django.db import connection

from catalog.sync.reconcile import ANALYZE_MIN_ROWS
from catalog.sync.records import ArtifactRecord
from tests.sync.test_reconcile import MODIFIED, MemoryMlflow, sync

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's planner statistics"
)


class ManyFilesS3:
    def __init__(self, files: int) -> None:
        self.files = files

    def iter_root(self, *, root):
        for n in range(self.files):
            yield ArtifactRecord(
                bucket="b", key=f"1/run0000/artifacts/f{n:06d}", size=1, etag="e",
                last_modified=MODIFIED,
            )  # fmt: skip

    def read_head(self, *, bucket, key, max_bytes):
        raise AssertionError("no content to read here")


def analyzed(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_stat_get_analyze_count(%s::regclass)", [table]
        )  # counts ANALYZE runs
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_bulk_load_is_analyzed_and_a_quiet_sync_is_not():
    before = analyzed("catalog_artifact")
    assert sync(MemoryMlflow(1), ManyFilesS3(ANALYZE_MIN_ROWS + 5)).status == "ok"
    after_load = analyzed("catalog_artifact")
    assert after_load > before
    assert sync(MemoryMlflow(1), ManyFilesS3(ANALYZE_MIN_ROWS + 5)).status == "ok"
    assert analyzed("catalog_artifact") == after_load
