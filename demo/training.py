"""Train each seed run's small, real models on the synthetic data and measure them.

A trainer returns a :class:`TrainedRun`: the fitted estimators by artifact folder, the
params it used, the metrics it computed (never typed in), per-step metric histories,
and the figures and text files the run logs. Every trainer is seeded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.ensemble import IsolationForest, RandomForestClassifier
from sklearn.linear_model import Ridge
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, OneClassSVM

from demo import data, plots

SEED = 42


@dataclass
class TrainedRun:
    """What one run produced, ready to be logged to MLflow."""

    models: dict[str, tuple[object, pd.DataFrame]]  # artifact folder -> (estimator, sample)
    params: dict[str, object]
    metrics: dict[str, float]
    histories: dict[str, list[float]] = field(default_factory=dict)
    figures: dict[str, Figure] = field(default_factory=dict)  # "plots/x.png" -> figure
    feature_names: list[str] = field(default_factory=list)
    sensor_config: str = ""
    extra_files: dict[str, str] = field(default_factory=dict)  # relative path -> text


def _classification_metrics(y_true, y_pred, scores=None) -> dict[str, float]:
    metrics = {
        "accuracy": accuracy_score(y_true, y_pred),
        "precision": precision_score(y_true, y_pred, zero_division=0),
        "recall": recall_score(y_true, y_pred, zero_division=0),
        "f1_score": f1_score(y_true, y_pred, zero_division=0),
    }
    if scores is not None:
        metrics["roc_auc"] = roc_auc_score(y_true, scores)
    return {key: round(float(value), 6) for key, value in metrics.items()}


def _report(metrics: dict[str, float]) -> str:
    return "".join(f"{key}: {value}\n" for key, value in sorted(metrics.items()))


SENSOR_CONFIG = """# Sensor configuration used for this run
machine: press-line-3
sensor-001: temperature_c   (PT100, 1 h mean)
sensor-002: vibration_mm_s  (ISO 10816 velocity RMS, 1 h mean)
sensor-003: pressure_kpa    (hydraulic line, 1 h mean)
sensor-004: humidity_pct    (cabinet, 1 h mean)
sampling: hourly
"""


# --- Folders 1/ and 2/: sensor anomaly detection ------------------------------------


def sensor_isolation_forest(*, seed: int, variant: str) -> TrainedRun:
    """IsolationForest on sensor readings with injected faults; scored against the labels.

    ``variant``: "realistic" (daily cycles, 3% faults), "synthetic" (2% faults), or
    "refined" (rolling-deviation features + scaler in a pipeline, folder 2/).
    """
    rng = np.random.default_rng(seed)
    share = {"realistic": 0.03, "synthetic": 0.02, "refined": 0.03}[variant]
    frame = data.sensor_readings(rng, hours=24 * 45, anomaly_share=share)
    columns = ["temperature_c", "vibration_mm_s", "pressure_kpa", "humidity_pct"]
    features = frame[columns].copy()
    if variant == "refined":
        for column in columns:
            rolling = frame[column].rolling(24, min_periods=1, center=True).median()
            features[f"{column}_deviation"] = frame[column] - rolling
        estimator = Pipeline(
            [
                ("scale", StandardScaler()),
                (
                    "detect",
                    IsolationForest(n_estimators=150, contamination=share, random_state=seed),
                ),
            ]
        )
    else:
        estimator = IsolationForest(n_estimators=100, contamination=share, random_state=seed)
    estimator.fit(features)
    flagged = (estimator.predict(features) == -1).astype(int)
    scores = -estimator.score_samples(features)
    metrics = _classification_metrics(frame.is_anomaly, flagged, scores)
    days = len(frame) // 24
    daily_rate = [float(flagged[d * 24 : (d + 1) * 24].mean()) for d in range(days)]
    last = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    figures = {
        "plots/anomaly_scores.png": plots.line_figure(
            title=f"Anomaly score per hour ({variant})",
            series={"score": scores},
            xlabel="hour",
            ylabel="score",
            marks=np.flatnonzero(flagged),
        ),
        "plots/score_distribution.png": plots.histogram_figure(
            title="Score distribution",
            xlabel="score",
            groups={"normal": scores[flagged == 0], "flagged": scores[flagged == 1]},
        ),
        "plots/sensor_overview.pdf": plots.line_figure(
            title="Sensor readings",
            xlabel="hour",
            ylabel="value",
            series={column: frame[column].to_numpy() for column in columns[:2]},
        ),
    }
    return TrainedRun(
        models={"model": (estimator, features.head(5))},
        params={
            "n_estimators": last.n_estimators,
            "contamination": share,
            "n_features": features.shape[1],
            "training_hours": len(frame),
            "variant": variant,
            "random_state": seed,
        },
        metrics={**metrics, "anomalies_flagged": float(flagged.sum())},
        histories={"daily_anomaly_rate": daily_rate},
        figures=figures,
        feature_names=list(features.columns),
        sensor_config=SENSOR_CONFIG,
        extra_files={
            "additional_artifacts/metrics_report.txt": _report(metrics),
            "additional_artifacts/data_profile.csv": frame.describe().round(4).to_csv(),
        },
    )


# --- Folder 3/: forecasting ----------------------------------------------------------


def _calendar_features(hours: np.ndarray) -> pd.DataFrame:
    columns = {"trend": hours / 1000.0}
    for period, order in ((24, 3), (24 * 7, 2)):
        for k in range(1, order + 1):
            columns[f"sin_{period}h_{k}"] = np.sin(2 * np.pi * k * hours / period)
            columns[f"cos_{period}h_{k}"] = np.cos(2 * np.pi * k * hours / period)
    return pd.DataFrame(columns)


def _lag_features(series: pd.Series) -> pd.DataFrame:
    frame = pd.DataFrame({f"lag_{lag}h": series.shift(lag) for lag in (1, 2, 24, 168)})
    hours = np.arange(len(series))
    frame["hour_of_day"] = hours % 24
    frame["day_of_week"] = (hours // 24) % 7
    return frame


def sensor_forecaster(*, seed: int, method: str, num_leaves: int = 31) -> TrainedRun:
    """Forecast sensor-001 temperature over a 7-day holdout.

    ``method`` "prophet_standin": Prophet is too heavy for the demo, so this is Prophet's
    model form (linear trend + daily and weekly Fourier terms) fitted by ridge regression;
    "lightgbm": a LightGBM regressor on lag and calendar features.
    """
    rng = np.random.default_rng(seed)
    frame = data.sensor_readings(rng, hours=24 * 60)
    target = frame.temperature_c
    holdout = 24 * 7
    histories: dict[str, list[float]] = {}
    if method == "prophet_standin":
        features = _calendar_features(np.arange(len(frame)))
        estimator = Ridge(alpha=1.0)
        estimator.fit(features[:-holdout], target[:-holdout])
        params = {
            "model_form": "trend+fourier(daily=3,weekly=2)",
            "alpha": 1.0,
            "stand_in_for": "prophet",
            "holdout_hours": holdout,
        }
    else:
        features = _lag_features(target).iloc[168:]
        target = target.iloc[168:]
        estimator = lgb.LGBMRegressor(
            n_estimators=120,
            learning_rate=0.05,
            num_leaves=num_leaves,
            random_state=seed,
            deterministic=True,
            force_row_wise=True,
            n_jobs=1,
            verbose=-1,
        )
        estimator.fit(
            features[:-holdout],
            target[:-holdout],
            eval_X=(features[-holdout:],),
            eval_y=(target[-holdout:],),
            eval_metric="l1",
        )
        histories["valid_l1"] = [float(v) for v in estimator.evals_result_["valid_0"]["l1"]]
        params = {
            "n_estimators": 120,
            "learning_rate": 0.05,
            "num_leaves": num_leaves,
            "lags": "1,2,24,168",
            "holdout_hours": holdout,
        }
    predicted = estimator.predict(features[-holdout:])
    actual = target[-holdout:].to_numpy()
    errors = np.abs(predicted - actual)
    histories["holdout_day_mae"] = [float(errors[d * 24 : (d + 1) * 24].mean()) for d in range(7)]
    metrics = {
        "mae": round(float(mean_absolute_error(actual, predicted)), 6),
        "rmse": round(float(np.sqrt(mean_squared_error(actual, predicted))), 6),
        "mape": round(float(np.mean(errors / np.abs(actual)) * 100), 6),
    }
    figures = {
        "plots/forecast.png": plots.line_figure(
            title=f"sensor-001 temperature: 7-day holdout ({method})",
            xlabel="hour",
            ylabel="temperature (C)",
            series={"actual": actual, "forecast": predicted},
        ),
        "plots/residuals.png": plots.histogram_figure(
            title="Holdout residuals",
            xlabel="actual - forecast",
            groups={"residual": actual - predicted},
        ),
        "plots/forecast_error_by_day.pdf": plots.line_figure(
            title="Mean absolute error per holdout day",
            xlabel="day",
            ylabel="MAE (C)",
            series={"mae": histories["holdout_day_mae"]},
        ),
    }
    return TrainedRun(
        models={"model": (estimator, features.head(5))},
        params={**params, "random_state": seed, "target": "sensor-001/temperature_c"},
        metrics=metrics,
        histories=histories,
        figures=figures,
        feature_names=list(features.columns),
        sensor_config=SENSOR_CONFIG,
        extra_files={
            "additional_artifacts/holdout_forecast.csv": pd.DataFrame(
                {"actual": actual, "forecast": predicted}
            )
            .round(4)
            .to_csv(index=False)
        },
    )


# --- Folder 4/: AI4I classification gauntlet ------------------------------------------


def ai4i_classifier(*, seed: int, algorithm: str, engineered: bool) -> TrainedRun:
    """A machine-failure classifier on AI4I-shaped data, baseline or engineered features."""
    rng = np.random.default_rng(seed)
    dataset = data.ai4i_process_data(rng)
    features = data.ai4i_engineered(dataset.features) if engineered else dataset.features
    x_train, x_test, y_train, y_test = train_test_split(
        features, dataset.labels, test_size=0.25, stratify=dataset.labels, random_state=seed
    )
    histories: dict[str, list[float]] = {}
    if algorithm == "randomforest":
        estimator = RandomForestClassifier(
            n_estimators=100, max_depth=12, random_state=seed, n_jobs=1, class_weight="balanced"
        )
        estimator.fit(x_train, y_train)
        votes = np.cumsum([tree.predict(x_test.to_numpy()) for tree in estimator.estimators_], 0)
        histories["accuracy_by_trees"] = [
            float(accuracy_score(y_test, (votes[k] / (k + 1)) > 0.5)) for k in range(0, 100, 5)
        ]
        importances = dict(zip(features.columns, estimator.feature_importances_, strict=True))
        params = {"n_estimators": 100, "max_depth": 12, "class_weight": "balanced"}
    elif algorithm == "svc":
        estimator = Pipeline(
            [("scale", StandardScaler()), ("svc", SVC(C=10.0, gamma="scale", random_state=seed))]
        )
        folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
        histories["cv_accuracy"] = [
            float(v)
            for v in cross_val_score(estimator, x_train, y_train, cv=folds, scoring="accuracy")
        ]
        estimator.fit(x_train, y_train)
        # An RBF SVC has no importances: show each feature's standardised failure gap.
        scaled = estimator[0].transform(x_train)
        importances = dict(
            zip(
                features.columns,
                np.abs(scaled[y_train == 1].mean(0) - scaled[y_train == 0].mean(0)),
                strict=True,
            )
        )
        params = {"C": 10.0, "kernel": "rbf", "gamma": "scale", "scaler": "standard"}
    else:
        estimator = lgb.LGBMClassifier(
            n_estimators=150,
            learning_rate=0.05,
            num_leaves=15,
            random_state=seed,
            deterministic=True,
            force_row_wise=True,
            n_jobs=1,
            verbose=-1,
        )
        estimator.fit(
            x_train, y_train, eval_X=(x_test,), eval_y=(y_test,), eval_metric="binary_logloss"
        )
        histories["valid_binary_logloss"] = [
            float(v) for v in estimator.evals_result_["valid_0"]["binary_logloss"]
        ]
        importances = dict(
            zip(features.columns, estimator.feature_importances_.astype(float), strict=True)
        )
        params = {"n_estimators": 150, "learning_rate": 0.05, "num_leaves": 15}
    predicted = estimator.predict(x_test)
    # An SVC without Platt scaling ranks by its decision function, enough for the ROC.
    scores = (
        estimator.predict_proba(x_test)[:, 1]
        if hasattr(estimator, "predict_proba")
        else estimator.decision_function(x_test)
    )
    metrics = _classification_metrics(y_test, predicted, scores)
    false_positive, true_positive, _ = roc_curve(y_test, scores)
    feature_set = "engineered" if engineered else "baseline"
    figures = {
        "plots/confusion_matrix.png": plots.confusion_figure(
            title=f"{algorithm} ({feature_set})",
            matrix=confusion_matrix(y_test, predicted),
            labels=["ok", "failure"],
        ),
        "plots/feature_importance.png": plots.bar_figure(
            title=f"Feature importance: {algorithm} ({feature_set})",
            values={k: float(v) for k, v in importances.items()},
            xlabel="importance",
        ),
        "plots/roc_curve.pdf": plots.curve_figure(
            title=f"ROC (AUC {metrics['roc_auc']:.3f})",
            x=false_positive,
            y=true_positive,
            xlabel="false positive rate",
            ylabel="true positive rate",
            diagonal=True,
        ),
    }
    return TrainedRun(
        models={"model": (estimator, x_train.head(5))},
        params={
            **params,
            "algorithm": algorithm,
            "feature_set": feature_set,
            "n_features": features.shape[1],
            "train_rows": len(x_train),
            "test_rows": len(x_test),
            "random_state": seed,
        },
        metrics={**metrics, "failure_rate": round(float(dataset.labels.mean()), 6)},
        histories=histories,
        figures=figures,
        feature_names=list(features.columns),
        sensor_config="# AI4I 2020 process signals\nair_temperature_k\nprocess_temperature_k\n"
        "rotational_speed_rpm\ntorque_nm\ntool_wear_min\nproduct_type (L/M/H, one-hot)\n",
        extra_files={"additional_artifacts/classification_report.txt": _report(metrics)},
    )


# --- Folders 5/ and 7/: bearing vibration; folder 6/: MIMII audio ----------------------


def bearing_detector(*, seed: int, dataset: str, algorithm: str) -> TrainedRun:
    """A detector trained on the healthy first third of a run-to-failure bearing test.

    ``dataset`` "nasa" (IMS set 2: 1 accelerometer per bearing, 20 kHz, outer-race fault
    at 236.4 Hz) or "xjtu" (horizontal and vertical channels, 25.6 kHz, 107.9 Hz).
    ``algorithm`` "isolationforest" or "oneclasssvm". XJTU runs also fit a feature scaler.
    """
    rng = np.random.default_rng(seed)
    if dataset == "nasa":
        channels, rate, fault_hz = ("bearing1",), 20480, 236.4
    else:
        channels, rate, fault_hz = ("horizontal", "vertical"), 25600, 107.9
    snapshots = data.vibration_snapshots(
        rng, snapshots=240, channels=channels, sample_rate_hz=rate, fault_hz=fault_hz
    )
    features = snapshots.features
    healthy = features.iloc[: len(features) // 3]
    scaler = StandardScaler().fit(healthy)
    if algorithm == "isolationforest":
        detector = IsolationForest(n_estimators=150, contamination=0.01, random_state=seed)
        params = {"n_estimators": 150, "contamination": 0.01}
    else:
        detector = OneClassSVM(nu=0.02, gamma="scale")
        params = {"nu": 0.02, "kernel": "rbf", "gamma": "scale"}
    scaled = pd.DataFrame(scaler.transform(features), columns=features.columns)
    if dataset == "xjtu":
        detector.fit(scaled.iloc[: len(features) // 3])
        models = {"model": (detector, scaled.head(5)), "scaler": (scaler, features.head(5))}
        model_input = scaled
    else:
        detector = Pipeline([("scale", scaler), ("detect", detector)]).fit(healthy)
        models = {"model": (detector, features.head(5))}
        model_input = features
    flagged = (detector.predict(model_input) == -1).astype(int)
    health = -detector.score_samples(model_input)
    metrics = _classification_metrics(snapshots.labels, flagged)
    alarms = np.flatnonzero(flagged[len(features) // 3 :]) + len(features) // 3
    metrics["first_alarm_snapshot"] = float(alarms[0]) if alarms.size else -1.0
    rms_columns = [column for column in features.columns if column.endswith("_rms")]
    figures = {
        "plots/health_index.png": plots.line_figure(
            title=f"Health index ({dataset.upper()}, {algorithm})",
            xlabel="snapshot",
            ylabel="anomaly score",
            series={"score": health},
            marks=np.flatnonzero(flagged),
        ),
        "plots/feature_trends.png": plots.line_figure(
            title="Kurtosis and crest factor",
            xlabel="snapshot",
            ylabel="value",
            series={
                c: features[c].to_numpy()
                for c in features.columns
                if c.endswith(("_kurtosis", "_crest_factor"))
            },
        ),
        "plots/rms_trend.pdf": plots.line_figure(
            title="RMS over the bearing's life",
            xlabel="snapshot",
            ylabel="RMS (g)",
            series={c: features[c].to_numpy() for c in rms_columns},
        ),
    }
    config = "".join(
        f"{channel}: accelerometer, {rate} Hz, 2048-sample windows\n" for channel in channels
    )
    return TrainedRun(
        models=models,
        params={
            **params,
            "algorithm": algorithm,
            "dataset": dataset,
            "snapshots": len(features),
            "training_snapshots": len(healthy),
            "fault_frequency_hz": fault_hz,
            "random_state": seed,
        },
        metrics=metrics,
        histories={"health_index": [float(v) for v in health]},
        figures=figures,
        feature_names=list(features.columns),
        sensor_config=f"# {dataset.upper()} bearing test rig\n{config}",
        extra_files={
            "additional_artifacts/bearing_features.csv": features.round(5).to_csv(
                index_label="snapshot"
            )
        },
    )


def mimii_classifier(*, seed: int) -> TrainedRun:
    """MIMII-style pump sounds: a scaler (its own model) and a RandomForest benchmark."""
    rng = np.random.default_rng(seed)
    dataset = data.mimii_audio_features(rng)
    x_train, x_test, y_train, y_test = train_test_split(
        dataset.features, dataset.labels, test_size=0.3, stratify=dataset.labels, random_state=seed
    )
    scaler = StandardScaler().fit(x_train)
    scaled_train = pd.DataFrame(scaler.transform(x_train), columns=x_train.columns)
    scaled_test = pd.DataFrame(scaler.transform(x_test), columns=x_test.columns)
    forest = RandomForestClassifier(n_estimators=120, max_depth=10, random_state=seed, n_jobs=1)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    cv = cross_val_score(forest, scaled_train, y_train, cv=folds, scoring="accuracy")
    forest.fit(scaled_train, y_train)
    predicted = forest.predict(scaled_test)
    scores = forest.predict_proba(scaled_test)[:, 1]
    metrics = _classification_metrics(y_test, predicted, scores)
    columns = list(dataset.features.columns)
    normal = dataset.features[dataset.labels == 0].mean()
    abnormal = dataset.features[dataset.labels == 1].mean()
    figures = {
        "plots/confusion_matrix.png": plots.confusion_figure(
            title="MIMII pump: RandomForest",
            matrix=confusion_matrix(y_test, predicted),
            labels=["normal", "abnormal"],
        ),
        "plots/band_importance.png": plots.bar_figure(
            title="Band importance",
            xlabel="importance",
            values=dict(zip(columns, forest.feature_importances_.astype(float), strict=True)),
        ),
        "plots/band_profiles.pdf": plots.line_figure(
            title="Mean log band energy",
            xlabel="band",
            ylabel="log10 energy",
            series={"normal": normal.to_numpy(), "abnormal": abnormal.to_numpy()},
        ),
    }
    return TrainedRun(
        models={"model": (forest, scaled_train.head(5)), "scaler": (scaler, x_train.head(5))},
        params={
            "n_estimators": 120,
            "max_depth": 10,
            "bands": len(columns),
            "sample_rate_hz": 16000,
            "clip_seconds": 0.25,
            "machine": "pump",
            "random_state": seed,
        },
        metrics={**metrics, "cv_accuracy_mean": round(float(cv.mean()), 6)},
        histories={"cv_accuracy": [float(v) for v in cv]},
        figures=figures,
        feature_names=columns,
        sensor_config="# MIMII pump, microphone array channel 0\nsample_rate: 16000 Hz\n"
        "features: 16 log-spaced band energies, 50 Hz - 8 kHz\n",
        extra_files={
            "additional_artifacts/band_edges_hz.txt": "\n".join(
                f"{edge:.1f}" for edge in np.geomspace(50, 8000, len(columns) + 1)
            )
            + "\n"
        },
    )
