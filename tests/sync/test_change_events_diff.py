"""Change events in isolation: the diff and its words, and the recorder's reads on
in-memory sources (``tests/sync/test_reconcile.py``'s stand-ins)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import ChangeEvent
from catalog.sync.changes.artifacts import OwnerTally
from catalog.sync.changes.diff import (
    KEY_MAX_CHARS,
    MAX_ENTRIES,
    MORE_KEY,
    VALUE_MAX_CHARS,
    alias_summary,
    diff_values,
    format_bytes,
    updated_summary,
)
from catalog.sync.changes.entities import SPECS
from catalog.sync.records import MetricRecord, RunRecord
from tests.sync.test_reconcile import MemoryMlflow, MemoryS3, sync

RUNS, MODELS = SPECS["runs"], SPECS["registered_models"]


def test_only_watched_fields_that_differ_are_changes():
    old = {"name": "a", "status": "RUNNING", "lifecycle_stage": "active", "tags": {}, "metrics": {}}
    new = {**old, "status": "FINISHED", "start_time": "ignored: not watched"}
    assert diff_values(RUNS, old, new) == ({"status": ["RUNNING", "FINISHED"]}, {})
    assert diff_values(RUNS, old, dict(old)) == ({}, {})


def test_metrics_and_tags_differ_key_by_key():
    old = {"metrics": {"rmse": 0.41, "mae": 0.2}, "tags": {"team": "a", "gone": "x"}}
    new = {"metrics": {"rmse": 0.38, "mae": 0.2, "r2": 0.9}, "tags": {"team": "b"}}
    changes, aliases = diff_values(RUNS, old, new)
    assert changes == {
        "metrics.r2": [None, 0.9],
        "metrics.rmse": [0.41, 0.38],
        "tags.gone": ["x", None],
        "tags.team": ["a", "b"],
    }
    assert aliases == {}


def test_aliases_are_their_own_changes():
    old = {"aliases": {"production": 3, "staging": 4}, "mlflow_description": "d"}
    new = {"aliases": {"production": 4, "canary": 5}, "mlflow_description": "d"}
    changes, aliases = diff_values(MODELS, old, new)
    assert changes == {}
    assert aliases == {"@canary": [None, 5], "@production": [3, 4], "@staging": [4, None]}
    assert alias_summary(aliases) == (
        "@canary set to v5; @production moved from v3 to v4; @staging removed from v4"
    )


def test_long_values_and_many_keys_are_bounded():
    long = "x" * 100_000
    changes, _ = diff_values(RUNS, {"name": "short"}, {"name": long})
    stored = changes["name"][1]
    assert len(stored) == VALUE_MAX_CHARS and stored.startswith("xxx")
    changes, _ = diff_values(RUNS, {"tags": {}}, {"tags": {"k" * 1000: "v"}})
    (key,) = changes
    assert len(key) == KEY_MAX_CHARS and key.startswith("tags.kkk")
    many = {f"k{i:03d}": i for i in range(MAX_ENTRIES + 20)}
    changes, _ = diff_values(RUNS, {"tags": {}}, {"tags": many})
    assert len(changes) == MAX_ENTRIES + 1 and changes[MORE_KEY] == 20
    assert updated_summary(changes).endswith(f"and {MAX_ENTRIES + 20 - 3} more")


def test_summaries_quote_short_values_and_name_long_ones():
    summary = updated_summary(
        {"status": ["RUNNING", "FINISHED"], "mlflow_description": ["x" * 50, "y"]}
    )
    assert summary == "status RUNNING -> FINISHED, description changed"
    tally = OwnerTally(added=3, bytes_added=1_200_000, changed=1, gone=2, bytes_removed=300)
    assert tally.summary() == "3 files added (1.2 MB), 1 changed, 2 gone (300 B)"
    assert format_bytes(999) == "999 B" and format_bytes(1500) == "1.5 KB"


class _MetricMlflow(MemoryMlflow):
    """``MemoryMlflow`` whose runs' metric ``m`` is ``value``."""

    def __init__(self, runs: int, *, value: float) -> None:
        super().__init__(runs)
        self.value = value

    def iter_runs(self, *, experiment_ids):
        for record in super().iter_runs(experiment_ids=experiment_ids):
            yield RunRecord(
                run_id=record.run_id,
                experiment_id=record.experiment_id,
                artifact_uri=record.artifact_uri,
                metrics=(MetricRecord(key="m", value=self.value, step=1, timestamp=6),),
            )


@pytest.mark.django_db
def test_old_values_are_read_once_per_batch_of_changed_rows():
    assert sync(_MetricMlflow(10, value=1.0), MemoryS3(10)).status == "ok"
    assert list(ChangeEvent.objects.values_list("kind", flat=True)) == ["initial_import"]
    with CaptureQueriesContext(connection) as queries:
        report = sync(_MetricMlflow(10, value=2.0), MemoryS3(10), batch_size=4)
    events = ChangeEvent.objects.filter(sync_run_id=report.sync_run_id)
    assert events.count() == 10 == report.change_events
    assert {tuple(e.changes["metrics.m"]) for e in events} == {(1.0, 2.0)}
    old_value_reads = [
        q["sql"]
        for q in queries
        if q["sql"].startswith("SELECT") and '"catalog_run"."metrics"' in q["sql"]
    ]
    assert len(old_value_reads) == 3  # batches of 4, 4 and 2 runs
