"""PostgreSQL: a sync that changed many rows refreshes the planner's statistics."""

from __future__ import annotations

import pytest
from django.db import connection

from catalog.sync.stages.totals import ANALYZE_MIN_ROWS
from tests.sync.test_reconcile import MemoryMlflow, MemoryS3, sync

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's planner statistics"
)


def analyzed(table: str) -> int:
    """How many times ``table`` has been analyzed (by ANALYZE, not autovacuum)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_get_analyze_count(%s::regclass)", [table])
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_bulk_load_is_analyzed_and_a_quiet_sync_is_not():
    # One run in MLflow, a file for each of 1,005 run folders in S3: 1,005 new rows.
    before = analyzed("catalog_artifact")
    assert sync(MemoryMlflow(1), MemoryS3(ANALYZE_MIN_ROWS + 5)).status == "ok"
    after_load = analyzed("catalog_artifact")
    assert after_load > before
    assert sync(MemoryMlflow(1), MemoryS3(ANALYZE_MIN_ROWS + 5)).status == "ok"
    assert analyzed("catalog_artifact") == after_load
