"""Nothing hard-deleted: what vanishes is marked missing, what returns is restored,
and what people wrote in the admin survives all of it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from catalog.models import Artifact, Experiment, ModelVersion, RegisteredModel, Run
from tests.sync.conftest import SEED_OBJECTS_PER_RUN

pytestmark = pytest.mark.slow


def _hard_delete_run(world, run_id: str) -> None:
    """What ``mlflow gc`` does to a deleted run: gone from every listing."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(world.tracking_uri, "s3://unused")
    store.delete_run(run_id)
    store._hard_delete_run(run_id)


def _remove_folder(world, prefix: str) -> int:
    s3 = world.s3()
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=world.bucket, Prefix=prefix)
        for item in page.get("Contents", ())
    ]
    for key in keys:
        s3.delete_object(Bucket=world.bucket, Key=key)
    return len(keys)


def _edit_curated_in_admin(client, obj, **fields) -> None:
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    data = {name: getattr(obj, name) for name in type(obj).CURATED_FIELDS}
    data.update(fields)
    response = client.post(url, data)
    assert response.status_code == 302, response.content[:2000]


def test_vanish_and_return_with_curated_fields_kept(seed_world, sync_world, staff_client):
    from mlflow import MlflowClient

    assert sync_world(seed_world).status == "ok"
    run_id = seed_world.run_ids["r4c"]
    folder_run_id = seed_world.run_ids["r5a"]
    run = Run.objects.get(run_id=run_id)
    model = RegisteredModel.objects.get(name="ai4i_classifier_randomforest_baseline")
    _edit_curated_in_admin(staff_client, run, description="Curated **run** text", notes="n1")
    _edit_curated_in_admin(
        staff_client, model, description="Curated model text", category_override="other"
    )
    experiment = Experiment.objects.get(experiment_id="4")
    _edit_curated_in_admin(staff_client, experiment, description="Machine failures")

    snapshot = seed_world.snapshot()
    try:
        _hard_delete_run(seed_world, run_id)
        removed = _remove_folder(seed_world, f"5/{folder_run_id}/")
        assert removed == SEED_OBJECTS_PER_RUN
        MlflowClient(
            tracking_uri=seed_world.tracking_uri, registry_uri=seed_world.tracking_uri
        ).delete_model_version("anomaly_detector_refined_v2", "1")
        report = sync_world(seed_world)
        assert report.status == "ok", report.all_warnings()
        # Owners changed, contents did not: no file is read again.
        assert report.s3_source.get_object_calls == 0
        counts = report.as_dict()["counts"]
        assert counts["runs"]["missing"] == 1
        assert counts["model_versions"]["missing"] == 1
        # The removed folder, plus the deleted run's objects that became orphans.
        assert counts["artifacts"]["missing"] == SEED_OBJECTS_PER_RUN
        assert counts["artifacts"]["updated"] == SEED_OBJECTS_PER_RUN
        assert report.orphans == SEED_OBJECTS_PER_RUN

        run.refresh_from_db()
        assert run.missing_since is not None
        assert run.description == "Curated **run** text" and run.notes == "n1"
        gone = Artifact.objects.filter(key__startswith=f"5/{folder_run_id}/")
        assert gone.count() == SEED_OBJECTS_PER_RUN
        assert all(a.missing_since is not None for a in gone)
        assert Run.objects.get(run_id=folder_run_id).artifact_count == 0
        orphaned = Artifact.objects.filter(key__startswith=f"4/{run_id}/")
        assert {a.run_id for a in orphaned} == {None}
        assert {a.orphan_folder for a in orphaned} == {f"4/{run_id}/"}
        version = ModelVersion.objects.get(
            registered_model__name="anomaly_detector_refined_v2", version=1
        )
        assert version.missing_since is not None
        assert Experiment.objects.get(experiment_id="4").run_count == 5
    finally:
        seed_world.restore(snapshot)

    report = sync_world(seed_world)
    assert report.status == "ok", report.all_warnings()
    assert report.s3_source.get_object_calls == 0
    counts = report.as_dict()["counts"]
    assert counts["runs"]["restored"] == 1
    assert counts["model_versions"]["restored"] == 1
    assert counts["artifacts"]["restored"] == SEED_OBJECTS_PER_RUN
    assert counts["artifacts"]["updated"] == SEED_OBJECTS_PER_RUN  # owned again
    assert report.orphans == 0
    run.refresh_from_db()
    assert run.missing_since is None
    assert run.artifact_count == SEED_OBJECTS_PER_RUN
    assert run.description == "Curated **run** text"
    model.refresh_from_db()
    assert model.description == "Curated model text"
    assert model.category_override == "other"
    assert model.category == "classification"
    assert model.effective_category == "other"
    assert Experiment.objects.get(experiment_id="4").description == "Machine failures"
    assert not Artifact.objects.filter(missing_since__isnull=False).exists()
    assert ModelVersion.objects.get(
        registered_model__name="anomaly_detector_refined_v2", version=1
    ).artifacts_present


def test_soft_deleted_run_stays_with_its_artifacts(seed_world, sync_world):
    from mlflow import MlflowClient

    snapshot = seed_world.snapshot()
    try:
        run_id = seed_world.run_ids["r1b"]
        MlflowClient(
            tracking_uri=seed_world.tracking_uri, registry_uri=seed_world.tracking_uri
        ).delete_run(run_id)
        report = sync_world(seed_world)
        assert report.status == "ok"
        run = Run.objects.get(run_id=run_id)
        # Deleted in MLflow but listed: not missing; its artifacts still take space.
        assert run.lifecycle_stage == "deleted"
        assert run.missing_since is None
        assert run.artifact_count == SEED_OBJECTS_PER_RUN
    finally:
        seed_world.restore(snapshot)


def test_purge_deletes_only_old_missing_rows(seed_world, sync_world):
    from datetime import timedelta

    from django.utils import timezone

    from catalog.sync.purge import purge_missing

    sync_world(seed_world)
    run = Run.objects.get(run_id=seed_world.run_ids["r3b"])
    Run.objects.filter(pk=run.pk).update(missing_since=timezone.now() - timedelta(days=40))
    Artifact.objects.filter(run=run).update(missing_since=timezone.now() - timedelta(days=2))
    assert purge_missing(older_than_days=30, dry_run=True)["runs"] == 1
    assert Run.objects.filter(pk=run.pk).exists()
    counts = purge_missing(older_than_days=30)
    assert counts["runs"] == 1 and counts["artifacts"] == 0
    assert not Run.objects.filter(pk=run.pk).exists()
    assert Artifact.objects.filter(key__startswith=f"3/{run.run_id}/").count() == (
        SEED_OBJECTS_PER_RUN
    )
    assert Experiment.objects.filter(experiment_id="3").exists()
