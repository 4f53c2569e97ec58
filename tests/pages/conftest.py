"""Fixtures of the page tests: a private chart cache and a small populated world."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture(autouse=True)
def private_cache(settings):
    """Each test gets an empty in-memory cache (charts are cached by their data)."""
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"pages-{uuid.uuid4().hex}",
        },
    }


# The seed page's world: folder -> (experiment name, purpose, [(run id, run name, models)]).
SEED_WORLD = {
    "1": (
        "Synthetic_Data_Validation",
        "MLflow infrastructure validation with realistic sensor data",
        [
            (
                "64535d709de2458396986ff9f939517a",
                "realistic_validation",
                ["realistic_sensor_validation_isolation_forest"],
            ),
            (
                "e69dbc0ecfe84289a16b2ee3f0e2097f",
                "synthetic_validation",
                ["synthetic_validation_isolation_forest"],
            ),
        ],
    ),
    "2": (
        "Anomaly Detection",
        "Enhanced anomaly detection using real sensor data",
        [("b702f86472f44eefb1d24ec0b68361ad", "refined_v2", ["anomaly_detector_refined_v2"])],
    ),
    "3": (
        "Forecasting Models",
        "Time-series forecasting with Prophet and LightGBM",
        [
            (
                "bf65e69afa984d93a4c86693dbca461b",
                "prophet",
                ["prophet_forecaster_enhanced_sensor-001"],
            ),
            (
                "95eebf78e6af44d4aa15bae87a7a89e8",
                "lightgbm_challenger",
                ["lightgbm_forecaster_challenger"],
            ),
        ],
    ),
    "4": (
        "Classification Gauntlet (AI4I)",
        "Machine failure prediction using AI4I dataset",
        [
            (
                "c795e657a4d147f1ac84ea0dc2bb68f1",
                "randomforest_baseline",
                ["ai4i_classifier_randomforest_baseline"],
            ),
            ("b0fe71b9c0824657838fb4183e47adb2", "svc_baseline", ["ai4i_classifier_svc_baseline"]),
            (
                "551acd88dc614e3c8148f726d55e3edd",
                "lightgbm_baseline",
                ["ai4i_classifier_lightgbm_baseline"],
            ),
            (
                "e351e96724684fe98e89d2df4aece3dd",
                "randomforest_engineered",
                ["ai4i_classifier_randomforest_engineered"],
            ),
            (
                "ab5a084af93f4398af4b942f4cfb8c1b",
                "svc_engineered",
                ["ai4i_classifier_svc_engineered"],
            ),
            (
                "027b7fe9d28443fdb51051ccfdbaeb52",
                "lightgbm_engineered",
                ["ai4i_classifier_lightgbm_engineered"],
            ),
        ],
    ),
    "5": (
        "Vibration Gauntlet (NASA)",
        "Vibration-based anomaly detection using NASA bearing dataset",
        [
            (
                "2ee0f69b335a42da9aabe2f1cf7668b0",
                "isolationforest",
                ["vibration_anomaly_isolationforest"],
            ),
            ("fdd9bade7f144306923e01efe515e64b", "oneclasssvm", ["vibration_anomaly_oneclasssvm"]),
        ],
    ),
    "6": (
        "Audio Gauntlet (MIMII)",
        "Audio-based anomaly detection using MIMII sound dataset",
        [
            (
                "7c0bd554459244d59c59c7690323cbc4",
                "mimii_benchmark",
                ["RandomForest_MIMII_Audio_Benchmark", "MIMII_Audio_Scaler"],
            )
        ],
    ),
    "7": (
        "Vibration Gauntlet (XJTU)",
        "Advanced vibration analysis using XJTU bearing dataset",
        [
            (
                "56453d8fa3af43b987c67553b0985872",
                "xjtu",
                ["xjtu_anomaly_isolation_forest", "xjtu_feature_scaler"],
            )
        ],
    ),
}
SEED_CATEGORIES = {
    "anomaly_detection": [
        "realistic_sensor_validation_isolation_forest",
        "synthetic_validation_isolation_forest",
        "anomaly_detector_refined_v2",
        "vibration_anomaly_isolationforest",
        "vibration_anomaly_oneclasssvm",
        "xjtu_anomaly_isolation_forest",
    ],
    "forecasting": ["prophet_forecaster_enhanced_sensor-001", "lightgbm_forecaster_challenger"],
    "preprocessing": ["MIMII_Audio_Scaler", "xjtu_feature_scaler"],
}
AI4I_ACCURACY = {
    "randomforest_baseline": 0.962,
    "svc_baseline": 0.951,
    "lightgbm_baseline": 0.968,
    "randomforest_engineered": 0.981,
    "svc_engineered": 0.973,
    "lightgbm_engineered": 0.985,
}


def _category(name: str) -> str:
    for category, names in SEED_CATEGORIES.items():
        if name in names:
            return category
    return "classification"


def build_seed_world():
    """The seed's 7 folders, 17 runs-and-models as catalogue rows (factories only).

    Each run has a model folder, two plots (PNG, PDF) and ``feature_names.txt``; each
    model version 1 is aliased ``champion``; the AI4I runs carry distinct accuracies and
    a short accuracy history. Returns a dict of the rows tests look up.
    """
    from datetime import timedelta

    from catalog.models import Experiment, MetricPoint
    from tests.factories import (
        NOW,
        make_artifact,
        make_experiment,
        make_model_version,
        make_registered_model,
        make_run,
        make_sync_run,
    )

    rows = {"experiments": {}, "runs": {}, "models": {}}
    for folder, (name, purpose, runs) in SEED_WORLD.items():
        experiment = make_experiment(experiment_id=folder, name=name, mlflow_description=purpose)
        rows["experiments"][folder] = experiment
        total_count = total_bytes = 0
        for index, (run_id, run_name, model_names) in enumerate(runs):
            accuracy = AI4I_ACCURACY.get(run_name, 0.80 + 0.01 * index)
            run = make_run(
                experiment=experiment,
                run_id=run_id,
                name=run_name,
                start_time=NOW + timedelta(hours=index),
                end_time=NOW + timedelta(hours=index, minutes=7),
                metrics={"accuracy": accuracy, "f1_score": round(accuracy - 0.05, 3)},
                params={
                    "n_estimators": "100",
                    "features": "engineered" if "engineered" in run_name else "baseline",
                },
                tags={"mlflow.runName": run_name, "dataset": name.split("(")[-1].rstrip(")")},
                artifact_count=5,
                artifact_bytes=5 * 1234,
            )
            rows["runs"][run_name] = run
            for path in (
                "model/MLmodel",
                "model/model.pkl",
                "plots/confusion.png",
                "plots/report.pdf",
                "feature_names.txt",
            ):
                make_artifact(run=run, path=path)
            for step in range(3):
                MetricPoint.objects.create(
                    run=run,
                    key="accuracy",
                    step=step,
                    timestamp=step,
                    value=accuracy - 0.01 * (2 - step),
                )
            total_count += 5
            total_bytes += 5 * 1234
            for model_name in model_names:
                model = make_registered_model(
                    name=model_name,
                    experiment=experiment,
                    category=_category(model_name),
                    latest_version=1,
                    aliases={"champion": 1},
                    tags={"domain": name},
                    mlflow_description=f"The {model_name} model.",
                )
                make_model_version(registered_model=model, run=run, version=1, aliases=["champion"])
                rows["models"][model_name] = model
        Experiment.objects.filter(pk=experiment.pk).update(
            run_count=len(runs), artifact_count=total_count, artifact_bytes=total_bytes
        )
    make_artifact(
        key="1/deadbeefdeadbeefdeadbeefdeadbeef/artifacts/old.pkl",
        orphan_folder="1/deadbeefdeadbeefdeadbeefdeadbeef/",
        size=4096,
    )
    rows["sync"] = make_sync_run()
    return rows


@pytest.fixture
def seed_world(db):
    return build_seed_world()
