"""Build the seed's world into a real MLflow tracking store and an S3 (moto) bucket.

:func:`build_world` is the one entry point: given an empty sqlite tracking URI and a
running S3 endpoint, it creates the 7 experiments, trains and logs every run of
:mod:`demo.seed`, registers the 17 models and applies the drift cases of
:mod:`demo.drift`. Run and logged-model ids and MLflow's clock are controlled during
the build (:mod:`demo.determinism`), so a rebuild gives the same world.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from demo import drift
from demo.determinism import (
    epoch_millis,
    frozen_mlflow_clock,
    planned_id,
    planned_ids,
    stable_hex_id,
)
from demo.plots import save_figure
from demo.s3 import BUCKET, make_boto3_client
from demo.seed import BUILD_CLOCK_START, EXPERIMENTS, RUNS, ModelSpec, RunSpec
from demo.training import TrainedRun


@dataclass
class WorldReport:
    """What a build made: counts, ids of MLflow 3 logged models, the drift cases."""

    experiments: int = 0
    runs: int = 0
    registered_models: int = 0
    model_versions: int = 0
    logged_models: dict[str, str] = field(default_factory=dict)  # model name -> m-<id>
    drift: dict[str, object] = field(default_factory=dict)


def build_world(*, tracking_uri: str, s3_endpoint_url: str) -> WorldReport:
    """Build the demo world into an empty tracking store and an empty S3 endpoint.

    MLflow's S3 client reads ``MLFLOW_S3_ENDPOINT_URL`` and AWS credentials from the
    environment: set them first (``demo.s3.running_s3_stand_in`` does).
    """
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    from mlflow.tracking import MlflowClient
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    if os.environ.get("MLFLOW_S3_ENDPOINT_URL") != s3_endpoint_url:
        raise ValueError(
            "MLflow would log artifacts elsewhere: set MLFLOW_S3_ENDPOINT_URL to "
            f"{s3_endpoint_url} (demo.s3.running_s3_stand_in does)"
        )
    s3 = make_boto3_client(s3_endpoint_url)
    s3.create_bucket(Bucket=BUCKET)
    report = WorldReport()
    clock = _Clock(BUILD_CLOCK_START)
    # The registry resolves ``models:/m-<id>`` sources through MLflow's global tracking
    # URI, whatever the client's; it is set for the build only, then restored.
    with (
        _use_tracking_uri(tracking_uri),
        frozen_mlflow_clock(now=clock.now),
        planned_ids(),
    ):
        # Creating the store runs its migrations and makes MLflow's "Default" experiment 0.
        SqlAlchemyStore(tracking_uri, f"s3://{BUCKET}")
        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        for spec in EXPERIMENTS:
            experiment_id = client.create_experiment(
                spec.name,
                artifact_location=f"s3://{BUCKET}/{spec.experiment_id}",
                tags={
                    "mlflow.note.content": spec.purpose,
                    "dataset": spec.dataset,
                    "s3_folder": f"{spec.experiment_id}/",
                },
            )
            if experiment_id != spec.experiment_id:
                raise RuntimeError(
                    f"experiment {spec.name!r} got id {experiment_id}, expected "
                    f"{spec.experiment_id}: the tracking store was not empty"
                )
            report.experiments += 1
        for spec in RUNS:
            _build_run(client=client, spec=spec, clock=clock, report=report)
            report.runs += 1
        report.drift = drift.apply_drift(client=client, s3=s3)
        _retire_default_experiment(client)
    report.registered_models = len(client.search_registered_models(max_results=1000))
    return report


class _Clock:
    """MLflow's frozen clock: set to a moment, then ticks one second per read."""

    def __init__(self, start: datetime) -> None:
        self.set(start)

    def set(self, moment: datetime) -> None:
        self._millis = epoch_millis(moment)

    def now(self) -> int:
        self._millis += 1000
        return self._millis


def _build_run(*, client, spec: RunSpec, clock: _Clock, report: WorldReport) -> None:
    from mlflow.entities import Metric, Param, RunTag

    clock.set(spec.start)
    start_ms = epoch_millis(spec.start)
    tags = {
        "mlflow.runName": spec.name,
        "mlflow.user": spec.user,
        "mlflow.note.content": spec.description,
        **spec.tags,
    }
    with planned_id(spec.run_id):
        run = client.create_run(
            spec.experiment_id, start_time=start_ms, tags=tags, run_name=spec.name
        )
    trained = spec.train() if spec.train else None
    # Runs "last" 20 minutes; history points are one second apart from the start.
    end = spec.start + timedelta(minutes=20)
    end_ms = epoch_millis(end)
    if trained is not None:
        metrics = [Metric(key, float(value), end_ms, 0) for key, value in trained.metrics.items()]
        for key, values in trained.histories.items():
            metrics += [
                Metric(key, value, start_ms + (step + 1) * 1000, step)
                for step, value in enumerate(values)
            ]
        params = [Param(key, str(value)) for key, value in trained.params.items()]
        for offset in range(0, len(metrics), 1000):
            client.log_batch(
                run.info.run_id,
                metrics=metrics[offset : offset + 1000],
                params=params if offset == 0 else [],
                tags=[],
            )
        client.log_batch(run.info.run_id, tags=[RunTag("mlflow.source.name", "demo/world.py")])
        _log_run_artifacts(client=client, spec=spec, trained=trained, created=end)
    clock.set(end)
    client.set_terminated(run.info.run_id, status=spec.status, end_time=end_ms)
    for model in spec.models:
        _register(
            client=client, spec=spec, model=model, trained=trained, created=end, report=report
        )


def _log_run_artifacts(*, client, spec: RunSpec, trained: TrainedRun, created: datetime) -> None:
    """Write the seed's run folder locally, then log it as the run's artifacts."""
    with tempfile.TemporaryDirectory(prefix="demo-run-") as tmp:
        root = Path(tmp)
        # Every model the run trained goes in its folder, registered or not, except
        # those logged the MLflow 3 way (they live under models/m-<id>/).
        mlflow3 = {model.folder for model in spec.models if model.layout == "mlflow3"}
        for folder in trained.models:
            if folder not in mlflow3:
                _save_model(
                    trained=trained,
                    folder=folder,
                    path=root / folder,
                    run_id=spec.run_id,
                    created=created,
                )
        for name, figure in trained.figures.items():
            save_figure(figure, root / name)
        (root / "feature_names.txt").write_text("\n".join(trained.feature_names) + "\n")
        (root / "sensor_config.txt").write_text(trained.sensor_config)
        for relative, text in trained.extra_files.items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_text(text)
        client.log_artifacts(spec.run_id, str(root))


def _save_model(
    *,
    trained: TrainedRun,
    folder: str,
    path: Path,
    run_id: str,
    created: datetime,
    model_id: str | None = None,
) -> None:
    """The MLflow 2 way: ``mlflow.sklearn.save_model`` into a folder we log ourselves.

    Requirements are given, not inferred: inference loads the model in a subprocess
    (seconds per model) and would make the files depend on the machine.
    """
    import cloudpickle
    import mlflow
    import sklearn
    from mlflow.models import Model, infer_signature

    estimator, sample = trained.models[folder]
    # Doubles in the signature: integer columns can't carry missing values at serving.
    sample = sample.astype("float64")
    output = (
        estimator.predict(sample) if hasattr(estimator, "predict") else estimator.transform(sample)
    )
    requirements = [
        f"mlflow=={mlflow.__version__}",
        f"scikit-learn=={sklearn.__version__}",
        f"cloudpickle=={cloudpickle.__version__}",
    ]
    if type(estimator).__module__.startswith("lightgbm"):
        import lightgbm

        requirements.append(f"lightgbm=={lightgbm.__version__}")
    mlflow.sklearn.save_model(
        estimator,
        str(path),
        signature=infer_signature(sample, output),
        pip_requirements=requirements,
        # MLflow 3.17 defaults to skops; the seed's layout is MLflow 2's model.pkl.
        serialization_format="cloudpickle",
        mlflow_model=Model(
            run_id=run_id,
            model_id=model_id,
            utc_time_created=created.replace(tzinfo=None).isoformat(sep=" "),
            model_uuid=stable_hex_id(run_id, folder),
        ),
    )


def _register(
    *,
    client,
    spec: RunSpec,
    model: ModelSpec,
    trained: TrainedRun | None,
    created: datetime,
    report: WorldReport,
) -> None:
    from mlflow.entities import LoggedModelStatus
    from mlflow.exceptions import MlflowException

    if trained is None:
        raise ValueError(f"run {spec.name} registers {model.name} but trains nothing")
    model_id = None
    if model.layout == "mlflow3":
        # The MLflow 3 way, step by step as mlflow.<flavor>.log_model does it: a logged
        # model with its own id, artifacts under {exp}/models/m-<id>/artifacts/.
        with planned_id(stable_hex_id("logged-model", spec.run_id, model.folder)):
            logged = client.create_logged_model(
                spec.experiment_id,
                name=model.folder,
                source_run_id=spec.run_id,
                tags={"registered_as": model.name},
                model_type="sklearn",
            )
        model_id = logged.model_id
        with tempfile.TemporaryDirectory(prefix="demo-model-") as tmp:
            _save_model(
                trained=trained,
                folder=model.folder,
                path=Path(tmp),
                run_id=spec.run_id,
                created=created,
                model_id=model_id,
            )
            client.log_model_artifacts(model_id, tmp)
        client.finalize_logged_model(model_id, LoggedModelStatus.READY)
        source = f"models:/{model_id}"
        report.logged_models[model.name] = model_id
    else:
        source = f"s3://{BUCKET}/{spec.experiment_id}/{spec.run_id}/artifacts/{model.folder}"
    try:
        client.get_registered_model(model.name)
    except MlflowException:
        tags = {**model.tags, **({"category": model.category} if model.category else {})}
        client.create_registered_model(model.name, tags=tags, description=model.description)
    version = client.create_model_version(
        model.name,
        source=source,
        run_id=spec.run_id,
        tags=model.version_tags,
        description=f"From run {spec.name} ({spec.run_id}).",
        model_id=model_id,
    )
    for alias in model.aliases:
        client.set_registered_model_alias(model.name, alias, version.version)
    report.model_versions += 1


def _retire_default_experiment(client) -> None:
    """Delete (soft) MLflow's empty "Default" experiment 0.

    The seed's server shows folders 1/ to 7/ only. MLflow cannot do without experiment
    0: every store start re-creates it when it is gone, even after ``mlflow gc``. So it
    stays, deleted, as a team hides it in MLflow's UI; the catalogue mirrors it as a
    deleted experiment (location ``s3://<bucket>/0``, no runs).
    """
    client.delete_experiment("0")
