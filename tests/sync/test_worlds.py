"""The seed-shaped world (MLflow 2 layout) and an MLflow 3 world, synced end to end."""

from __future__ import annotations

import pytest

from catalog.models import (
    Artifact,
    Experiment,
    LoggedModel,
    MetricPoint,
    ModelVersion,
    RegisteredModel,
    Run,
    SyncRun,
)
from tests.sync.conftest import SEED_CATEGORIES, SEED_OBJECTS_PER_RUN

pytestmark = pytest.mark.slow


def test_seed_world_syncs_to_the_right_counts(seed_world, sync_world):
    report = sync_world(seed_world)
    assert report.status == "ok", report.all_warnings()
    counts = report.as_dict()["counts"]
    # 7 experiments plus MLflow's "Default" (id 0).
    assert counts["experiments"]["created"] == 8
    assert counts["runs"]["created"] == 15
    assert counts["registered_models"]["created"] == 17
    assert counts["model_versions"]["created"] == 18
    assert counts["logged_models"]["created"] == 0
    assert counts["artifacts"]["created"] == seed_world.object_count
    assert report.orphans == 0
    assert Experiment.objects.count() == 8
    assert Run.objects.count() == 15
    assert RegisteredModel.objects.count() == 17
    assert ModelVersion.objects.count() == 18
    assert Artifact.objects.count() == seed_world.object_count
    assert SyncRun.objects.get().status == "ok"


def test_seed_world_owners_versions_aliases_categories(seed_world, sync_world):
    sync_world(seed_world)
    run = Run.objects.get(run_id=seed_world.run_ids["r4b"])
    assert run.experiment.experiment_id == "4"
    assert run.experiment.name == "Classification Gauntlet (AI4I)"
    assert run.params == {"n_estimators": "100"}
    assert run.metrics == {"accuracy": pytest.approx(0.92), "f1": pytest.approx(0.8)}
    assert MetricPoint.objects.filter(run=run, key="accuracy").count() == 3
    assert run.artifact_count == SEED_OBJECTS_PER_RUN
    assert run.status == "FINISHED"
    paths = set(run.artifacts.values_list("path", flat=True))
    assert {"model/MLmodel", "plots/roc curve.png", "feature_names.txt"} <= paths
    plot = run.artifacts.get(path="plots/roc curve.png")
    assert plot.key == f"4/{run.run_id}/artifacts/plots/roc curve.png"
    assert plot.folder == "plots"
    assert plot.orphan_folder == ""

    experiment = Experiment.objects.get(experiment_id="4")
    assert experiment.run_count == 6
    assert experiment.artifact_count == 6 * SEED_OBJECTS_PER_RUN

    model = RegisteredModel.objects.get(name="anomaly_detector_refined_v2")
    assert model.latest_version == 2
    assert model.aliases == {"champion": 2, "previous": 1}
    assert model.experiment.experiment_id == "2"
    assert model.mlflow_description == "r2a"
    versions = {v.version: v for v in model.versions.all()}
    assert versions[2].aliases == ["champion"]
    assert versions[1].aliases == ["previous"]
    assert versions[1].run.run_id == seed_world.run_ids["r2a"]
    assert versions[1].artifact_bucket == seed_world.bucket
    assert versions[1].artifact_prefix == f"2/{seed_world.run_ids['r2a']}/artifacts/model/"
    assert versions[1].artifacts_present is True
    for name, category in SEED_CATEGORIES.items():
        assert RegisteredModel.objects.get(name=name).category == category, name


def test_seed_world_parses_mlmodel_and_feature_names(seed_world, sync_world):
    sync_world(seed_world)
    run_id = seed_world.run_ids["r1a"]
    mlmodel = Artifact.objects.get(key=f"1/{run_id}/artifacts/model/MLmodel")
    meta = mlmodel.meta
    assert meta["kind"] == "mlmodel"
    assert meta["flavors"] == ["python_function", "sklearn"]
    assert meta["loader_module"] == "mlflow.sklearn"
    assert meta["serialization_format"] == "pickle"
    assert meta["python_version"].startswith("3.11")
    assert meta["mlflow_version"]
    assert meta["model_size_bytes"] and meta["model_size_bytes"] > 0
    assert [c["type"] for c in meta["signature"]["inputs"]] == ["tensor<float64>"]
    assert meta["signature"]["outputs"][0]["type"].startswith("tensor<")
    assert mlmodel.meta_etag == mlmodel.etag
    features = Artifact.objects.get(key=f"1/{run_id}/artifacts/feature_names.txt")
    assert features.meta == {
        "kind": "feature_names",
        "features": ["temperature", "vibration_rms", "pressure"],
    }
    assert Artifact.objects.get(key=f"1/{run_id}/artifacts/sensor_config.txt").meta == {}


def test_mlflow3_world(mlflow3_world, sync_world):
    report = sync_world(mlflow3_world)
    assert report.status == "ok", report.all_warnings()
    counts = report.as_dict()["counts"]
    assert counts["logged_models"]["created"] == 2
    assert counts["registered_models"]["created"] == 2
    assert counts["model_versions"]["created"] == 2
    assert counts["artifacts"]["created"] == mlflow3_world.object_count
    assert report.orphans == 0
    model_id = mlflow3_world.logged_model_ids["pump_failure_classifier"]
    logged = LoggedModel.objects.get(model_id=model_id)
    assert logged.run.run_id == mlflow3_world.run_ids["pump_failure_classifier"]
    assert logged.status == "READY"
    assert logged.artifact_count > 0
    mlmodel = logged.artifacts.get(path="MLmodel")
    assert mlmodel.key == f"1/models/{model_id}/artifacts/MLmodel"
    assert mlmodel.run_id is None
    assert "sklearn" in mlmodel.meta["flavors"]
    version = ModelVersion.objects.get(registered_model__name="pump_failure_classifier")
    assert version.source == f"models:/{model_id}"
    assert version.logged_model == logged
    assert version.artifact_prefix == f"1/models/{model_id}/artifacts/"
    assert version.artifacts_present is True
    assert version.aliases == ["production"]
    registered = version.registered_model
    assert registered.category == "classification"
    assert registered.experiment.experiment_id == mlflow3_world.experiment_ids["pump"]
    assert RegisteredModel.objects.get(name="pump_feature_scaler").category == "preprocessing"
    # The run's own artifact (log_text) stays with the run.
    run = Run.objects.get(run_id=mlflow3_world.run_ids["pump_failure_classifier"])
    assert list(run.artifacts.values_list("path", flat=True)) == ["plots/summary.txt"]


@pytest.fixture
def one_item_pages(monkeypatch):
    """Every MLflow listing answers one item a page, so every token must be followed."""
    from catalog.sync import mlflow_source

    for name in [
        "EXPERIMENTS_PAGE",
        "RUNS_PAGE",
        "REGISTERED_MODELS_PAGE",
        "MODEL_VERSIONS_PAGE",
        "LOGGED_MODELS_PAGE",
    ]:
        monkeypatch.setattr(mlflow_source, name, 1)
    monkeypatch.setattr(mlflow_source, "EXPERIMENTS_PER_RUN_SEARCH", 2)


def test_every_page_token_is_followed(seed_world, sync_world, one_item_pages):
    report = sync_world(seed_world)
    assert report.status == "ok", report.all_warnings()
    assert Experiment.objects.count() == 8
    assert Run.objects.count() == 15
    assert RegisteredModel.objects.count() == 17
    assert ModelVersion.objects.count() == 18


def test_every_logged_model_page_is_followed(mlflow3_world, sync_world, one_item_pages):
    report = sync_world(mlflow3_world)
    assert report.status == "ok", report.all_warnings()
    assert LoggedModel.objects.count() == 2
    assert ModelVersion.objects.count() == 2
