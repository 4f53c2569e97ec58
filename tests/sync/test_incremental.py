"""Compare before write: a second sync with no source change writes nothing."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import MetricPoint, Run, SyncRun

pytestmark = pytest.mark.slow


def catalogue_writes(queries) -> list[str]:
    """Every INSERT/UPDATE/DELETE/COPY in ``queries`` on a table other than catalog_syncrun."""
    writes = []
    for query in queries:
        sql = query["sql"].strip()
        # Django logs an executemany as "<n> times: <sql>".
        if " times: " in sql.split("\n", 1)[0][:40]:
            sql = sql.split(" times: ", 1)[1].strip()
        verb = sql.split(None, 1)[0].upper()
        if verb not in {"INSERT", "UPDATE", "DELETE", "COPY"}:
            continue
        if '"catalog_syncrun"' in sql.split("SET")[0].split("VALUES")[0]:
            continue
        writes.append(sql[:200])
    return writes


@pytest.mark.parametrize("world_name", ["seed_world", "mlflow3_world"])
def test_second_sync_is_all_unchanged_and_writes_nothing(world_name, request, sync_world):
    world = request.getfixturevalue(world_name)
    with CaptureQueriesContext(connection) as captured:
        first = sync_world(world)
    assert first.status == "ok"
    # The detector sees the first sync's writes, so its silence below means something.
    assert any("catalog_artifact" in sql for sql in catalogue_writes(captured.captured_queries))
    assert first.mlflow_source.metric_history_calls > 0
    assert first.s3_source.get_object_calls > 0

    with CaptureQueriesContext(connection) as captured:
        second = sync_world(world)
    assert second.status == "ok", second.all_warnings()
    for entity, counts in second.as_dict()["counts"].items():
        assert counts["unchanged"] > 0 or entity == "logged_models", entity
        assert counts["created"] == counts["updated"] == 0, entity
        assert counts["missing"] == counts["restored"] == 0, entity
    assert catalogue_writes(captured.captured_queries) == []
    assert second.mlflow_source.metric_history_calls == 0
    assert second.s3_source.get_object_calls == 0
    assert SyncRun.objects.filter(status="ok").count() == 2


def test_changed_metrics_refetch_history_of_that_run_only(seed_world, sync_world):
    from mlflow import MlflowClient

    sync_world(seed_world)
    snapshot = seed_world.snapshot()
    try:
        run_id = seed_world.run_ids["r3a"]
        MlflowClient(
            tracking_uri=seed_world.tracking_uri, registry_uri=seed_world.tracking_uri
        ).log_metric(run_id, "accuracy", 0.99, step=3)
        report = sync_world(seed_world)
        assert report.as_dict()["counts"]["runs"]["updated"] == 1
        # accuracy and f1 of that one run.
        assert report.mlflow_source.metric_history_calls == 2
        run = Run.objects.get(run_id=run_id)
        assert run.metrics["accuracy"] == pytest.approx(0.99)
        assert MetricPoint.objects.filter(run=run, key="accuracy").count() == 4
    finally:
        seed_world.restore(snapshot)


def test_changed_file_content_is_read_again(seed_world, sync_world):
    from catalog.models import Artifact

    sync_world(seed_world)
    snapshot = seed_world.snapshot()
    try:
        key = f"5/{seed_world.run_ids['r5b']}/artifacts/feature_names.txt"
        seed_world.s3().put_object(Bucket=seed_world.bucket, Key=key, Body=b"rms\nkurtosis\n")
        report = sync_world(seed_world)
        assert report.as_dict()["counts"]["artifacts"]["updated"] == 1
        assert report.s3_source.get_object_calls == 1
        artifact = Artifact.objects.get(key=key)
        assert artifact.meta == {"kind": "feature_names", "features": ["rms", "kurtosis"]}
        assert artifact.meta_etag == artifact.etag
    finally:
        seed_world.restore(snapshot)
    report = sync_world(seed_world)
    assert report.s3_source.get_object_calls == 1
    assert Artifact.objects.get(key=key).meta["features"][0] == "temperature"
