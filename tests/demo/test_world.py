"""The demo world, built with MLflow and moto and synced by ``sync_registry``, is the seed's."""

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
)
from demo.s3 import BUCKET
from demo.seed import DRIFT, EXPERIMENTS, REGISTERED_MODEL_NAMES, RUNS

# The seed page's "Model Categories by Type", verbatim.
SEED_CATEGORIES = {
    "anomaly_detection": {
        "realistic_sensor_validation_isolation_forest",
        "synthetic_validation_isolation_forest",
        "anomaly_detector_refined_v2",
        "vibration_anomaly_isolationforest",
        "vibration_anomaly_oneclasssvm",
        "xjtu_anomaly_isolation_forest",
    },
    "classification": {
        "ai4i_classifier_randomforest_baseline",
        "ai4i_classifier_randomforest_engineered",
        "ai4i_classifier_svc_baseline",
        "ai4i_classifier_svc_engineered",
        "ai4i_classifier_lightgbm_baseline",
        "ai4i_classifier_lightgbm_engineered",
        "RandomForest_MIMII_Audio_Benchmark",
    },
    "forecasting": {"prophet_forecaster_enhanced_sensor-001", "lightgbm_forecaster_challenger"},
    "preprocessing": {"MIMII_Audio_Scaler", "xjtu_feature_scaler"},
}
SEED_EXPERIMENTS = [
    ("1", "Synthetic_Data_Validation"),
    ("2", "Anomaly Detection"),
    ("3", "Forecasting Models"),
    ("4", "Classification Gauntlet (AI4I)"),
    ("5", "Vibration Gauntlet (NASA)"),
    ("6", "Audio Gauntlet (MIMII)"),
    ("7", "Vibration Gauntlet (XJTU)"),
]
# Run ids the seed page gives, by folder.
SEED_RUN_IDS = {
    "1": {"64535d709de2458396986ff9f939517a", "e69dbc0ecfe84289a16b2ee3f0e2097f"},
    "2": {"b702f86472f44eefb1d24ec0b68361ad"},
    "3": {"bf65e69afa984d93a4c86693dbca461b", "95eebf78e6af44d4aa15bae87a7a89e8"},
    "4": {
        "c795e657a4d147f1ac84ea0dc2bb68f1",
        "b0fe71b9c0824657838fb4183e47adb2",
        "551acd88dc614e3c8148f726d55e3edd",
        "e351e96724684fe98e89d2df4aece3dd",
        "ab5a084af93f4398af4b942f4cfb8c1b",
        "027b7fe9d28443fdb51051ccfdbaeb52",
    },
    "5": {"2ee0f69b335a42da9aabe2f1cf7668b0", "fdd9bade7f144306923e01efe515e64b"},
    "6": {"7c0bd554459244d59c59c7690323cbc4"},
    "7": {"56453d8fa3af43b987c67553b0985872"},
}
SEED_RUN_FILES = {
    "model/MLmodel",
    "model/model.pkl",
    "model/conda.yaml",
    "model/python_env.yaml",
    "feature_names.txt",
    "sensor_config.txt",
}


def test_the_world_has_the_seeds_experiments_in_order(sync_demo_world):
    summary = sync_demo_world()
    assert summary["status"] == "ok", summary
    active = Experiment.objects.filter(lifecycle_stage="active").order_by("experiment_id")
    assert [(e.experiment_id, e.name) for e in active] == SEED_EXPERIMENTS
    purposes = {spec.experiment_id: spec.purpose for spec in EXPERIMENTS}
    for experiment in active:
        assert experiment.artifact_location == f"s3://{BUCKET}/{experiment.experiment_id}"
        assert experiment.mlflow_description == purposes[experiment.experiment_id]
    # MLflow can't lose its "Default" experiment 0: it is there, deleted and empty.
    default = Experiment.objects.get(experiment_id="0")
    assert (default.lifecycle_stage, default.run_count) == ("deleted", 0)
    for folder, run_ids in SEED_RUN_IDS.items():
        ids = set(
            Run.objects.filter(experiment__experiment_id=folder).values_list("run_id", flat=True)
        )
        assert run_ids <= ids, folder


def test_the_world_has_the_seeds_17_models_and_categories(sync_demo_world):
    sync_demo_world()
    names = set(RegisteredModel.objects.values_list("name", flat=True))
    assert len(names) == 17
    assert names == set().union(*SEED_CATEGORIES.values()) == set(REGISTERED_MODEL_NAMES)
    for category, members in SEED_CATEGORIES.items():
        synced = set(
            RegisteredModel.objects.filter(category=category).values_list("name", flat=True)
        )
        assert synced == members, category
    # Each version points to the run that made it, in the seed's folder.
    folders = {m.name: run.experiment_id for run in RUNS for m in run.models}
    for version in ModelVersion.objects.select_related("run__experiment", "registered_model"):
        assert version.run is not None, version
        assert version.run.experiment.experiment_id == folders[version.registered_model.name]
    challenger = RegisteredModel.objects.get(name="lightgbm_forecaster_challenger")
    assert challenger.aliases == {"production": 2, "challenger": 2}
    assert challenger.latest_version == 2


def test_every_run_has_the_seeds_folder_layout(sync_demo_world):
    sync_demo_world()
    for spec in RUNS:
        run = Run.objects.get(run_id=spec.run_id)
        paths = set(run.artifacts.values_list("path", flat=True))
        if spec.train is None:
            assert paths == set(), spec.name  # the failed tuning run (drift)
            continue
        expected = set(SEED_RUN_FILES)
        if spec.run_id == DRIFT["version_missing_artifacts_run"]:
            expected = {p for p in expected if not p.startswith("model/")}
        assert expected <= paths, (spec.name, expected - paths)
        assert any(p.startswith("plots/") and p.endswith(".png") for p in paths), spec.name
        assert any(p.startswith("plots/") and p.endswith(".pdf") for p in paths), spec.name
        assert any(p.startswith("additional_artifacts/") for p in paths), spec.name
        features = run.artifacts.get(path="feature_names.txt").meta
        assert features["kind"] == "feature_names" and len(features["features"]) >= 4


def test_every_model_has_a_parsed_mlmodel(sync_demo_world):
    sync_demo_world()
    mlmodels = Artifact.objects.filter(key__endswith="/MLmodel", missing_since=None)
    for artifact in mlmodels.exclude(orphan_folder__gt=""):
        assert artifact.meta["kind"] == "mlmodel", artifact.key
        assert "sklearn" in artifact.meta["flavors"], artifact.key
        assert artifact.meta["signature"]["inputs"], artifact.key
    for version in ModelVersion.objects.select_related("registered_model"):
        if (version.registered_model.name, version.version) == DRIFT["version_missing_artifacts"]:
            continue
        assert version.artifacts_present is True, version
        mlmodel = Artifact.objects.get(
            bucket=version.artifact_bucket, key=f"{version.artifact_prefix}MLmodel"
        )
        assert mlmodel.meta["kind"] == "mlmodel", version


def test_one_model_is_logged_the_mlflow_3_way(sync_demo_world, demo_world):
    sync_demo_world()
    model_id = demo_world.report.logged_models["MIMII_Audio_Scaler"]
    logged = LoggedModel.objects.get(model_id=model_id)
    assert logged.run.run_id == "7c0bd554459244d59c59c7690323cbc4"
    prefix = f"6/models/{model_id}/artifacts/"
    keys = set(logged.artifacts.values_list("key", flat=True))
    assert {
        f"{prefix}MLmodel",
        f"{prefix}model.pkl",
        f"{prefix}conda.yaml",
        f"{prefix}python_env.yaml",
    } <= keys
    version = ModelVersion.objects.get(registered_model__name="MIMII_Audio_Scaler")
    assert version.source == f"models:/{model_id}"
    assert version.logged_model == logged and version.artifacts_present is True


def test_metrics_are_computed_with_histories(sync_demo_world):
    sync_demo_world()
    ai4i = Run.objects.filter(experiment__experiment_id="4")
    assert ai4i.count() == 6
    for run in ai4i:
        assert run.metrics["accuracy"] > 0.9, run.name  # the seed: all AI4I models > 90%
        assert {"precision", "recall", "f1_score", "roc_auc"} <= set(run.metrics)
        assert run.params["feature_set"] in {"baseline", "engineered"}
    assert len({run.metrics["f1_score"] for run in ai4i}) > 1  # computed, not typed in
    lightgbm = Run.objects.get(run_id="027b7fe9d28443fdb51051ccfdbaeb52")
    history = MetricPoint.objects.filter(run=lightgbm, key="valid_binary_logloss")
    assert history.count() == 150
    prophet = Run.objects.get(run_id="bf65e69afa984d93a4c86693dbca461b")
    assert prophet.tags["stand_in_for"] == "prophet"
    assert "stand-in for Prophet" in prophet.tags["mlflow.note.content"]


def test_drift_cases_are_reported_by_the_sync(sync_demo_world):
    summary = sync_demo_world()
    orphans = Artifact.objects.filter(run=None, logged_model=None)
    assert summary["orphans"] == orphans.count() == 4
    groups = set(orphans.values_list("orphan_folder", flat=True))
    assert groups == {DRIFT["orphan_folder"], "4/"}
    assert orphans.filter(key=DRIFT["orphan_file"]).exists()
    deleted = Run.objects.get(run_id=DRIFT["deleted_run_with_artifacts"])
    assert deleted.lifecycle_stage == "deleted"
    assert deleted.artifact_count > 0 and deleted.artifact_bytes > 0
    name, number = DRIFT["version_missing_artifacts"]
    missing = ModelVersion.objects.get(registered_model__name=name, version=number)
    assert missing.artifacts_present is False
    assert missing.artifact_prefix.endswith("/artifacts/model/")
    empty = Run.objects.get(run_id=DRIFT["run_without_artifacts"])
    assert (empty.status, empty.artifact_count) == ("FAILED", 0)
    # Everything else is in order: no other version lacks its files.
    assert ModelVersion.objects.filter(artifacts_present=False).count() == 1
    assert Run.objects.filter(lifecycle_stage="deleted").count() == 1
    assert Run.objects.filter(artifact_count=0).count() == 1


@pytest.mark.parametrize("name", ["ai4i_classifier_svc_engineered", "xjtu_feature_scaler"])
def test_registered_models_carry_tags_and_aliases(sync_demo_world, name):
    sync_demo_world()
    model = RegisteredModel.objects.get(name=name)
    assert model.tags["s3_folder"] in {"4/", "7/"}
    assert model.aliases == {"production": 1}
    assert model.mlflow_description


def test_the_build_leaves_mlflow_as_it_found_it(demo_world):
    import mlflow
    from mlflow.store.tracking import sqlalchemy_store

    assert mlflow.get_tracking_uri() != demo_world.tracking_uri
    assert sqlalchemy_store.uuid.__name__ == "uuid"


def test_building_without_the_endpoint_in_the_environment_is_refused(monkeypatch, tmp_path):
    from demo.world import build_world

    monkeypatch.delenv("MLFLOW_S3_ENDPOINT_URL", raising=False)
    with pytest.raises(ValueError, match="set MLFLOW_S3_ENDPOINT_URL"):
        build_world(tracking_uri=f"sqlite:///{tmp_path}/m.db", s3_endpoint_url="http://x:1")
