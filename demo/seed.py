"""The seed page's world as data: experiments, runs, registered models, drift cases.

Names, run ids and folder numbers are the seed page's (shared/seed/000_...txt). Where
the seed is vague ("additional tuning runs") the runs are ours, with ids derived
from their names (:func:`demo.determinism.stable_hex_id`), and say so in their notes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from demo import training
from demo.determinism import stable_hex_id

BUILD_CLOCK_START = datetime(2025, 8, 4, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class ExperimentSpec:
    experiment_id: str
    name: str
    purpose: str
    dataset: str


@dataclass(frozen=True)
class ModelSpec:
    """A registered model made from one of a run's model folders."""

    name: str
    folder: str = "model"  # the run's artifact folder holding it
    layout: str = "mlflow2"  # "mlflow2": run folder; "mlflow3": models/m-<id>/
    category: str | None = None  # the ``category`` tag; None lets the sync infer it
    description: str = ""
    aliases: tuple[str, ...] = ("production",)
    tags: dict[str, str] = field(default_factory=dict)
    version_tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunSpec:
    run_id: str
    experiment_id: str
    name: str
    start: datetime
    train: Callable[[], training.TrainedRun] | None
    description: str = ""
    models: tuple[ModelSpec, ...] = ()
    status: str = "FINISHED"
    user: str = "yan"
    tags: dict[str, str] = field(default_factory=dict)


EXPERIMENTS = (
    ExperimentSpec(
        "1",
        "Synthetic_Data_Validation",
        "MLflow infrastructure validation with realistic sensor data",
        "sensor",
    ),
    ExperimentSpec(
        "2", "Anomaly Detection", "Enhanced anomaly detection using real sensor data", "sensor"
    ),
    ExperimentSpec(
        "3", "Forecasting Models", "Time-series forecasting with Prophet and LightGBM", "sensor"
    ),
    ExperimentSpec(
        "4",
        "Classification Gauntlet (AI4I)",
        "Machine failure prediction using AI4I dataset",
        "AI4I 2020",
    ),
    ExperimentSpec(
        "5",
        "Vibration Gauntlet (NASA)",
        "Vibration-based anomaly detection using NASA bearing dataset",
        "NASA IMS bearings",
    ),
    ExperimentSpec(
        "6",
        "Audio Gauntlet (MIMII)",
        "Audio-based anomaly detection using MIMII sound dataset",
        "MIMII",
    ),
    ExperimentSpec(
        "7",
        "Vibration Gauntlet (XJTU)",
        "Advanced vibration analysis using XJTU bearing dataset",
        "XJTU-SY bearings",
    ),
)

ANOMALY = "anomaly_detection"
CLASSIFICATION = "classification"
FORECASTING = "forecasting"
PREPROCESSING = "preprocessing"


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 9, day, hour, minute, tzinfo=UTC)


# Ours, not the seed's: the "additional tuning runs" of folder 3/ (see DRIFT below).
TUNING_LEAVES_15 = stable_hex_id("demo", "3", "lightgbm_tuning_leaves_15")
TUNING_LEAVES_63 = stable_hex_id("demo", "3", "lightgbm_tuning_leaves_63")
TUNING_PROPHET_FAILED = stable_hex_id("demo", "3", "prophet_changepoint_tuning")

_AI4I = (
    # (run id, algorithm, engineered, day, hour)
    ("c795e657a4d147f1ac84ea0dc2bb68f1", "randomforest", False, 8, 10),
    ("b0fe71b9c0824657838fb4183e47adb2", "svc", False, 8, 11),
    ("551acd88dc614e3c8148f726d55e3edd", "lightgbm", False, 8, 12),
    ("e351e96724684fe98e89d2df4aece3dd", "randomforest", True, 9, 10),
    ("ab5a084af93f4398af4b942f4cfb8c1b", "svc", True, 9, 11),
    ("027b7fe9d28443fdb51051ccfdbaeb52", "lightgbm", True, 9, 12),
)
_ALGORITHM_LABEL = {"randomforest": "RandomForest", "svc": "SVC", "lightgbm": "LightGBM"}


def _ai4i_runs() -> list[RunSpec]:
    runs = []
    for run_id, algorithm, engineered, day, hour in _AI4I:
        feature_set = "engineered" if engineered else "baseline"
        runs.append(
            RunSpec(
                run_id=run_id,
                experiment_id="4",
                name=f"{_ALGORITHM_LABEL[algorithm]} {feature_set}",
                start=_at(day, hour),
                train=partial(
                    training.ai4i_classifier, seed=404, algorithm=algorithm, engineered=engineered
                ),
                description=f"{_ALGORITHM_LABEL[algorithm]} on the AI4I process columns"
                + (" plus temperature delta, power and strain." if engineered else "."),
                tags={"feature_set": feature_set, "algorithm": algorithm},
                models=(
                    ModelSpec(
                        name=f"ai4i_classifier_{algorithm}_{feature_set}",
                        category=CLASSIFICATION,
                        description=f"Machine-failure classifier ({_ALGORITHM_LABEL[algorithm]}, "
                        f"{feature_set} features) on AI4I 2020-shaped data.",
                        tags={
                            "dataset": "AI4I 2020",
                            "s3_folder": "4/",
                            "feature_set": feature_set,
                        },
                        version_tags={"validation_status": "approved"},
                    ),
                ),
            )
        )
    return runs


RUNS: tuple[RunSpec, ...] = (
    RunSpec(
        run_id="64535d709de2458396986ff9f939517a",
        experiment_id="1",
        name="realistic_sensor_validation",
        start=_at(2, 9),
        train=partial(training.sensor_isolation_forest, seed=101, variant="realistic"),
        description="Validation of the MLflow + S3 setup on realistic sensor data "
        "(daily cycles, 3% injected faults). **Successful run.**",
        models=(
            ModelSpec(
                name="realistic_sensor_validation_isolation_forest",
                category=ANOMALY,
                description="IsolationForest validated on realistic sensor readings.",
                tags={"dataset": "synthetic sensor", "s3_folder": "1/"},
            ),
        ),
    ),
    RunSpec(
        run_id="e69dbc0ecfe84289a16b2ee3f0e2097f",
        experiment_id="1",
        name="synthetic_validation",
        start=_at(2, 11),
        train=partial(training.sensor_isolation_forest, seed=102, variant="synthetic"),
        description="Validation run on plain synthetic sensor data. **Successful run.**",
        models=(
            ModelSpec(
                name="synthetic_validation_isolation_forest",
                category=ANOMALY,
                description="IsolationForest validated on synthetic sensor readings.",
                tags={"dataset": "synthetic sensor", "s3_folder": "1/"},
            ),
        ),
    ),
    RunSpec(
        run_id="b702f86472f44eefb1d24ec0b68361ad",
        experiment_id="2",
        name="anomaly_detector_refined_v2",
        start=_at(4, 14),
        train=partial(training.sensor_isolation_forest, seed=201, variant="refined"),
        description="IsolationForest behind a feature-engineering step (rolling deviations) "
        "and a scaler.",
        models=(
            ModelSpec(
                name="anomaly_detector_refined_v2",
                category=ANOMALY,
                description="Refined sensor anomaly detector: rolling-deviation features, "
                "scaler and IsolationForest in one pipeline.",
                tags={"dataset": "sensor", "s3_folder": "2/"},
            ),
        ),
    ),
    RunSpec(
        run_id="bf65e69afa984d93a4c86693dbca461b",
        experiment_id="3",
        name="prophet_sensor-001",
        start=_at(5, 9),
        train=partial(training.sensor_forecaster, seed=301, method="prophet_standin"),
        description="**Demo stand-in for Prophet.** Prophet is too heavy for the demo, so "
        "this run fits Prophet's model form (linear trend + daily and weekly Fourier terms) "
        "with scikit-learn's Ridge and logs it with the sklearn flavor.",
        tags={"stand_in_for": "prophet"},
        models=(
            ModelSpec(
                name="prophet_forecaster_enhanced_sensor-001",
                category=FORECASTING,
                description="Sensor-001 temperature forecaster (demo: a Prophet-form ridge "
                "regression stands in for Prophet).",
                aliases=("production", "champion"),
                tags={"dataset": "sensor-001", "s3_folder": "3/", "stand_in_for": "prophet"},
            ),
        ),
    ),
    RunSpec(
        run_id=TUNING_LEAVES_15,
        experiment_id="3",
        name="lightgbm_tuning_leaves_15",
        start=_at(5, 13),
        train=partial(training.sensor_forecaster, seed=301, method="lightgbm", num_leaves=15),
        description="Tuning run (demo addition). Version 1 of lightgbm_forecaster_challenger "
        "came from here; its model/ folder was later removed from S3 (drift case).",
        tags={"tuning": "num_leaves"},
        models=(
            ModelSpec(
                name="lightgbm_forecaster_challenger",
                category=FORECASTING,
                description="LightGBM challenger to the Prophet forecaster (lag and calendar "
                "features).",
                aliases=(),
                tags={"dataset": "sensor-001", "s3_folder": "3/"},
            ),
        ),
    ),
    RunSpec(
        run_id=TUNING_LEAVES_63,
        experiment_id="3",
        name="lightgbm_tuning_leaves_63",
        start=_at(5, 14),
        train=partial(training.sensor_forecaster, seed=301, method="lightgbm", num_leaves=63),
        description="Tuning run (demo addition), deleted in MLflow; its artifacts remain "
        "in S3 (drift case).",
        tags={"tuning": "num_leaves"},
    ),
    RunSpec(
        run_id=TUNING_PROPHET_FAILED,
        experiment_id="3",
        name="prophet_changepoint_tuning",
        start=_at(5, 16),
        train=None,
        status="FAILED",
        description="Tuning run (demo addition) that failed before logging anything: a run "
        "with no artifacts (drift case).",
        tags={"tuning": "changepoint_prior_scale"},
    ),
    RunSpec(
        run_id="95eebf78e6af44d4aa15bae87a7a89e8",
        experiment_id="3",
        name="lightgbm_challenger",
        start=_at(6, 10),
        train=partial(training.sensor_forecaster, seed=301, method="lightgbm", num_leaves=31),
        description="LightGBM challenger on lag and calendar features.",
        models=(
            ModelSpec(
                name="lightgbm_forecaster_challenger",
                category=FORECASTING,
                aliases=("production", "challenger"),
                description="LightGBM challenger to the Prophet forecaster (lag and calendar "
                "features).",
                tags={"dataset": "sensor-001", "s3_folder": "3/"},
            ),
        ),
    ),
    *_ai4i_runs(),
    RunSpec(
        run_id="2ee0f69b335a42da9aabe2f1cf7668b0",
        experiment_id="5",
        name="IsolationForest",
        start=_at(11, 9),
        train=partial(
            training.bearing_detector, seed=501, dataset="nasa", algorithm="isolationforest"
        ),
        description="IsolationForest on NASA IMS-shaped bearing features, trained on the "
        "healthy first third of the test.",
        models=(
            ModelSpec(
                name="vibration_anomaly_isolationforest",
                category=ANOMALY,
                description="Bearing anomaly detector (IsolationForest, NASA IMS-shaped data).",
                tags={"dataset": "NASA IMS bearings", "s3_folder": "5/"},
            ),
        ),
    ),
    RunSpec(
        run_id="fdd9bade7f144306923e01efe515e64b",
        experiment_id="5",
        name="OneClassSVM",
        start=_at(11, 11),
        train=partial(training.bearing_detector, seed=501, dataset="nasa", algorithm="oneclasssvm"),
        description="One-class SVM on the same bearing features.",
        models=(
            ModelSpec(
                name="vibration_anomaly_oneclasssvm",
                category=None,
                description="Bearing anomaly detector (One-class SVM, NASA IMS-shaped data). "
                "No category tag: the catalogue infers it from the name.",
                tags={"dataset": "NASA IMS bearings", "s3_folder": "5/"},
            ),
        ),
    ),
    RunSpec(
        run_id="7c0bd554459244d59c59c7690323cbc4",
        experiment_id="6",
        name="RandomForest_MIMII_pump",
        start=_at(12, 15),
        train=partial(training.mimii_classifier, seed=601),
        description="RandomForest benchmark on MIMII-shaped pump sounds. Its scaler is "
        "logged the MLflow 3 way, as a logged model (`models/m-<id>/`).",
        models=(
            ModelSpec(
                name="RandomForest_MIMII_Audio_Benchmark",
                category=CLASSIFICATION,
                description="Normal/abnormal pump sound classifier on 16 band energies.",
                tags={"dataset": "MIMII pump", "s3_folder": "6/"},
            ),
            ModelSpec(
                name="MIMII_Audio_Scaler",
                folder="scaler",
                layout="mlflow3",
                category=PREPROCESSING,
                description="StandardScaler for the MIMII band energies (MLflow 3 logged model).",
                tags={"dataset": "MIMII pump", "s3_folder": "6/"},
            ),
        ),
    ),
    RunSpec(
        run_id="56453d8fa3af43b987c67553b0985872",
        experiment_id="7",
        name="xjtu_isolation_forest",
        start=_at(15, 10),
        train=partial(
            training.bearing_detector, seed=701, dataset="xjtu", algorithm="isolationforest"
        ),
        description="IsolationForest on XJTU-SY-shaped horizontal and vertical vibration "
        "features, with its feature scaler logged beside it (`scaler/`).",
        models=(
            ModelSpec(
                name="xjtu_anomaly_isolation_forest",
                category=ANOMALY,
                description="Bearing anomaly detector on scaled XJTU-SY-shaped features.",
                tags={"dataset": "XJTU-SY bearings", "s3_folder": "7/"},
            ),
            ModelSpec(
                name="xjtu_feature_scaler",
                folder="scaler",
                category=None,
                description="StandardScaler for the XJTU features. No category tag: the "
                "catalogue infers it from the name.",
                tags={"dataset": "XJTU-SY bearings", "s3_folder": "7/"},
            ),
        ),
    ),
)

REGISTERED_MODEL_NAMES = tuple(dict.fromkeys(m.name for run in RUNS for m in run.models))

# The drift cases the audit view should show (see demo.drift).
ORPHAN_RUN_FOLDER = stable_hex_id("demo", "2", "hand-copied run")
DRIFT = {
    "orphan_folder": f"2/{ORPHAN_RUN_FOLDER}/",
    "orphan_file": "4/ai4i_dataset_snapshot.csv",
    "deleted_run_with_artifacts": TUNING_LEAVES_63,
    "version_missing_artifacts": ("lightgbm_forecaster_challenger", 1),
    "version_missing_artifacts_run": TUNING_LEAVES_15,
    "run_without_artifacts": TUNING_PROPHET_FAILED,
}
