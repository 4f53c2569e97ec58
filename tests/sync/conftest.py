"""Worlds for the sync tests: real MLflow tracking stores (sqlite files) and moto's S3 server.

The worlds are built once per session with the real mlflow client, each from a copy of
one migrated empty store (``Templates``). Tests that change a world (delete a run,
remove a folder) restore it before they end, through ``world.snapshot()`` /
``world.restore()``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from django.db import connection

from tests.environment import environment

SEED_BUCKET = "seed-world"
MLFLOW3_BUCKET = "mlflow3-world"

# The seed page's world: folder -> (experiment name, runs -> registered models).
SEED_EXPERIMENTS = [
    (
        "Synthetic_Data_Validation",
        {
            "r1a": ["realistic_sensor_validation_isolation_forest"],
            "r1b": ["synthetic_validation_isolation_forest"],
        },
    ),
    ("Anomaly Detection", {"r2a": ["anomaly_detector_refined_v2"]}),
    (
        "Forecasting Models",
        {
            "r3a": ["prophet_forecaster_enhanced_sensor-001"],
            "r3b": ["lightgbm_forecaster_challenger"],
        },
    ),
    (
        "Classification Gauntlet (AI4I)",
        {
            "r4a": ["ai4i_classifier_randomforest_baseline"],
            "r4b": ["ai4i_classifier_svc_baseline"],
            "r4c": ["ai4i_classifier_lightgbm_baseline"],
            "r4d": ["ai4i_classifier_randomforest_engineered"],
            "r4e": ["ai4i_classifier_svc_engineered"],
            "r4f": ["ai4i_classifier_lightgbm_engineered"],
        },
    ),
    (
        "Vibration Gauntlet (NASA)",
        {"r5a": ["vibration_anomaly_isolationforest"], "r5b": ["vibration_anomaly_oneclasssvm"]},
    ),
    (
        "Audio Gauntlet (MIMII)",
        {"r6a": ["RandomForest_MIMII_Audio_Benchmark", "MIMII_Audio_Scaler"]},
    ),
    (
        "Vibration Gauntlet (XJTU)",
        {"r7a": ["xjtu_anomaly_isolation_forest", "xjtu_feature_scaler"]},
    ),
]
SEED_CATEGORIES = {
    "realistic_sensor_validation_isolation_forest": "anomaly_detection",
    "synthetic_validation_isolation_forest": "anomaly_detection",
    "anomaly_detector_refined_v2": "anomaly_detection",
    "vibration_anomaly_isolationforest": "anomaly_detection",
    "vibration_anomaly_oneclasssvm": "anomaly_detection",
    "xjtu_anomaly_isolation_forest": "anomaly_detection",
    "ai4i_classifier_randomforest_baseline": "classification",
    "ai4i_classifier_randomforest_engineered": "classification",
    "ai4i_classifier_svc_baseline": "classification",
    "ai4i_classifier_svc_engineered": "classification",
    "ai4i_classifier_lightgbm_baseline": "classification",
    "ai4i_classifier_lightgbm_engineered": "classification",
    "RandomForest_MIMII_Audio_Benchmark": "classification",
    "prophet_forecaster_enhanced_sensor-001": "forecasting",
    "lightgbm_forecaster_challenger": "forecasting",
    "MIMII_Audio_Scaler": "preprocessing",
    "xjtu_feature_scaler": "preprocessing",
}
RUN_FILES = {
    "plots/roc curve.png": b"\x89PNG\r\n\x1a\n" + b"0" * 64,
    "plots/residuals.pdf": b"%PDF-1.4\n" + b"0" * 64,
    "feature_names.txt": b"temperature\nvibration_rms\n\npressure\n",
    "sensor_config.txt": b"sensor=001\n",
    "additional_artifacts/notes.md": b"# notes\n",
}
SEED_OBJECTS_PER_RUN = len(RUN_FILES) + 5  # + model/: MLmodel, model.pkl, 3 env files


@dataclass
class World:
    """A built world: its tracking store, bucket and the ids the tests refer to."""

    tracking_uri: str
    db_path: Path
    bucket: str
    endpoint: str
    experiment_ids: dict[str, str] = field(default_factory=dict)
    run_ids: dict[str, str] = field(default_factory=dict)
    model_names: list[str] = field(default_factory=list)
    logged_model_ids: dict[str, str] = field(default_factory=dict)
    object_count: int = 0
    # Bodies read by earlier snapshots, by key: (ETag, body).
    _bodies: dict[str, tuple[str, bytes]] = field(default_factory=dict, repr=False)

    def s3(self):
        return boto3.client("s3", endpoint_url=self.endpoint)

    def _etags(self, s3) -> dict[str, str]:
        """Every key of the bucket with its ETag (unquoted)."""
        etags = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            etags.update(
                (item["Key"], item["ETag"].strip('"')) for item in page.get("Contents", ())
            )
        return etags

    def snapshot(self) -> tuple[bytes, dict[str, bytes]]:
        """The tracking database's bytes and every object of the bucket.

        An object whose ETag is the one an earlier snapshot read is not read again (its
        ETag, the MD5 of its body, changes with the body). Tests restore the world
        before they end, so most snapshots find every body read already and cost one
        listing instead of a GET per object.
        """
        s3 = self.s3()
        objects = {}
        for key, etag in self._etags(s3).items():
            known = self._bodies.get(key)
            if known is None or known[0] != etag:
                body = s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
                known = self._bodies[key] = (etag, body)
            objects[key] = known[1]
        return self.db_path.read_bytes(), objects

    def restore(self, snapshot: tuple[bytes, dict[str, bytes]]) -> None:
        """Put the world back as it was at ``snapshot`` (S3 ETags come back the same)."""
        _dispose_mlflow_engines()
        database, objects = snapshot
        self.db_path.write_bytes(database)
        s3 = self.s3()
        current = self._etags(s3)
        for key in set(current) - set(objects):
            s3.delete_object(Bucket=self.bucket, Key=key)
        for key, body in objects.items():
            # Single-part ETags are the MD5 of the body: re-put only what differs.
            if current.get(key) != hashlib.md5(body).hexdigest():  # noqa: S324
                s3.put_object(Bucket=self.bucket, Key=key, Body=body)


def _dispose_mlflow_engines() -> None:
    # MLflow caches one SQLAlchemy engine per database URI; drop pooled connections so
    # a restored database file is read afresh.
    try:
        from mlflow.store.db import utils as db_utils

        for engine in list(getattr(db_utils, "_engines", {}).values()):
            engine.dispose()
    except Exception:  # noqa: BLE001 - best effort in a test helper
        pass


@pytest.fixture(scope="session")
def moto_endpoint(worlds_s3_endpoint):
    """The moto S3 server of the sync tests' worlds, for the whole session: the worker's
    server of session worlds, shared with the demo and poison worlds (``tests/conftest.py``
    says why).
    """
    # No pooled connections to the tracking databases: World.restore() rewrites the file.
    with environment({"MLFLOW_SQLALCHEMYSTORE_POOLCLASS": "NullPool"}):
        yield worlds_s3_endpoint


@pytest.fixture(scope="session")
def world_dir():
    path = Path(tempfile.mkdtemp(prefix="sync-worlds-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _model_folder(base: Path) -> Path:
    """A real MLflow 2 style model folder (sklearn), saved once and copied into runs."""
    import mlflow.sklearn
    import numpy as np
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    features = np.array([[0.1, 1.0, 3.0], [0.2, 0.5, 2.0], [0.9, 0.1, 1.0], [0.8, 0.3, 0.5]])
    labels = np.array([0, 0, 1, 1])
    model = LogisticRegression().fit(features, labels)
    folder = base / "saved-model"
    mlflow.sklearn.save_model(
        model,
        str(folder),
        serialization_format="pickle",
        signature=infer_signature(features, model.predict(features)),
        pip_requirements=["scikit-learn"],
    )
    return folder


@dataclass(frozen=True)
class Templates:
    """What every world starts from: an empty, migrated tracking store and a saved model.

    Creating an MLflow sqlite store runs its alembic migrations (over 10 s on a busy
    machine); copying a migrated one takes milliseconds.
    """

    store: Path
    model_folder: Path

    def new_store(self, db_path: Path) -> str:
        """A copy of the empty store at ``db_path``; returns its tracking URI."""
        db_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.store, db_path)
        return f"sqlite:///{db_path}"


def make_templates(*, base: Path) -> Templates:
    """An empty tracking store (migrated) and a real saved sklearn model under ``base``."""
    from mlflow import MlflowClient

    base.mkdir(parents=True, exist_ok=True)
    store = base / "empty-store.db"
    MlflowClient(tracking_uri=f"sqlite:///{store}").search_experiments()
    return Templates(store=store, model_folder=_model_folder(base))


def build_seed_world(
    *, base: Path, endpoint: str, templates: Templates, bucket: str = SEED_BUCKET
) -> World:
    """The seed page's world in the MLflow 2 layout: 7 experiments, 15 runs, 17 models."""
    from mlflow import MlflowClient

    base.mkdir(parents=True, exist_ok=True)
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    db_path = base / "mlflow.db"
    uri = templates.new_store(db_path)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    world = World(tracking_uri=uri, db_path=db_path, bucket=bucket, endpoint=endpoint)
    model_folder = templates.model_folder
    files = base / "files"
    for relative, body in RUN_FILES.items():
        (files / relative).parent.mkdir(parents=True, exist_ok=True)
        (files / relative).write_bytes(body)
    for index, (name, runs) in enumerate(SEED_EXPERIMENTS, start=1):
        experiment_id = client.create_experiment(
            name, artifact_location=f"s3://{bucket}/{index}", tags={"team": "maintenance"}
        )
        assert experiment_id == str(index), "the store numbers experiments 1, 2, ..."
        world.experiment_ids[name] = experiment_id
        for label, model_names in runs.items():
            run = client.create_run(experiment_id, run_name=f"{label}-run", tags={"label": label})
            run_id = run.info.run_id
            world.run_ids[label] = run_id
            client.log_param(run_id, "n_estimators", "100")
            for step in range(3):
                client.log_metric(run_id, "accuracy", 0.9 + step / 100, step=step)
            client.log_metric(run_id, "f1", 0.8)
            client.log_artifacts(run_id, str(model_folder), "model")
            client.log_artifacts(run_id, str(files))
            client.set_terminated(run_id)
            world.object_count += SEED_OBJECTS_PER_RUN
            for model_name in model_names:
                tags = {"task": "anomaly detection"} if label == "r2a" else {}
                client.create_registered_model(model_name, tags=tags, description=f"{label}")
                world.model_names.append(model_name)
                client.create_model_version(
                    model_name, source=f"runs:/{run_id}/model", run_id=run_id
                )
    # A second version and aliases on one model, as a team would have.
    second = client.create_model_version(
        "anomaly_detector_refined_v2",
        source=f"runs:/{world.run_ids['r2a']}/model",
        run_id=world.run_ids["r2a"],
    )
    client.set_registered_model_alias("anomaly_detector_refined_v2", "champion", second.version)
    client.set_registered_model_alias("anomaly_detector_refined_v2", "previous", "1")
    return world


def copy_world(world: World, *, base: Path, bucket: str) -> World:
    """``world`` again, in a tracking store and a bucket of its own.

    The store is a copy of the file with the bucket renamed in its locations, the
    objects are copied inside moto: the same world as building it again through the
    client, for a fraction of the requests.
    """
    base.mkdir(parents=True, exist_ok=True)
    db_path = base / "mlflow.db"
    shutil.copyfile(world.db_path, db_path)
    _rename_bucket(db_path, old=world.bucket, new=bucket)
    s3 = world.s3()
    s3.create_bucket(Bucket=bucket)
    for key in world._etags(s3):
        s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": world.bucket, "Key": key})
    return World(
        tracking_uri=f"sqlite:///{db_path}",
        db_path=db_path,
        bucket=bucket,
        endpoint=world.endpoint,
        experiment_ids=dict(world.experiment_ids),
        run_ids=dict(world.run_ids),
        model_names=list(world.model_names),
        logged_model_ids=dict(world.logged_model_ids),
        object_count=world.object_count,
    )


def _rename_bucket(db_path: Path, *, old: str, new: str) -> None:
    """Point every ``s3://old/`` location of a tracking store at ``s3://new/``."""
    connection = sqlite3.connect(db_path)
    try:
        with connection:
            tables = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            for (table,) in tables.fetchall():
                for column in connection.execute(f'PRAGMA table_info("{table}")').fetchall():
                    name, kind = column[1], column[2].upper()
                    if "CHAR" in kind or "TEXT" in kind:
                        connection.execute(
                            f'UPDATE "{table}" SET "{name}" = replace("{name}", ?, ?) '
                            f'WHERE instr("{name}", ?) > 0',
                            (f"s3://{old}/", f"s3://{new}/", f"s3://{old}/"),
                        )
    finally:
        connection.close()


def build_mlflow3_world(
    *, base: Path, endpoint: str, templates: Templates, bucket: str = MLFLOW3_BUCKET
) -> World:
    """An MLflow 3 world: ``log_model(name=...)`` writes ``{exp}/models/m-<id>/artifacts/``."""
    import mlflow
    import numpy as np
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    base.mkdir(parents=True, exist_ok=True)
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    db_path = base / "mlflow.db"
    uri = templates.new_store(db_path)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    world = World(tracking_uri=uri, db_path=db_path, bucket=bucket, endpoint=endpoint)
    experiment_id = client.create_experiment(
        "Pump anomaly (MLflow 3)", artifact_location=f"s3://{bucket}/1"
    )
    world.experiment_ids["pump"] = experiment_id
    features = np.array([[0.1, 1.0], [0.2, 0.5], [0.9, 0.1], [0.8, 0.3]])
    estimators = {
        "pump_failure_classifier": LogisticRegression().fit(features, [0, 0, 1, 1]),
        "pump_feature_scaler": StandardScaler().fit(features),
    }
    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        for name, estimator in estimators.items():
            with mlflow.start_run(experiment_id=experiment_id, run_name=name) as run:
                mlflow.log_metric("score", 0.75)
                info = mlflow.sklearn.log_model(
                    estimator, name="model", pip_requirements=["scikit-learn"]
                )
                mlflow.log_text("a plot would be here", "plots/summary.txt")
            world.run_ids[name] = run.info.run_id
            world.logged_model_ids[name] = info.model_id
            mlflow.register_model(info.model_uri, name)
            world.model_names.append(name)
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])
    client.set_registered_model_alias("pump_failure_classifier", "production", "1")
    s3 = world.s3()
    world.object_count = sum(
        page.get("KeyCount", 0)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    )
    return world


@pytest.fixture(scope="session")
def mlflow_templates(world_dir) -> Templates:
    """The migrated empty store and saved model every world of the session copies."""
    return make_templates(base=world_dir / "templates")


@pytest.fixture(scope="session")
def seed_world(moto_endpoint, world_dir, mlflow_templates) -> World:
    return build_seed_world(
        base=world_dir / "seed", endpoint=moto_endpoint, templates=mlflow_templates
    )


@pytest.fixture(scope="session")
def mlflow3_world(moto_endpoint, world_dir, mlflow_templates) -> World:
    return build_mlflow3_world(
        base=world_dir / "mlflow3", endpoint=moto_endpoint, templates=mlflow_templates
    )


@pytest.fixture
def empty_tracking_uri(mlflow_templates, tmp_path) -> str:
    """A tracking store that holds nothing but MLflow's "Default" experiment."""
    return mlflow_templates.new_store(tmp_path / "empty.db")


@pytest.fixture(autouse=True)
def _sync_lock_in_tmp(settings, tmp_path):
    settings.CATALOG_SYNC_LOCK_PATH = tmp_path / "sync.lock"
    settings.CATALOG_S3_ROOTS = []
    settings.CATALOG_ARTIFACTS_DESTINATION = ""


@pytest.fixture
def sync_world(db):
    """A function that syncs a world into the test database and returns the report."""
    from catalog.s3 import make_s3_client
    from catalog.sync.mlflow_source import MlflowSource
    from catalog.sync.s3_source import S3Source
    from catalog.sync.service import SyncOptions, run_sync

    def sync(world: World, **options):
        mlflow_source = options.pop("mlflow_source", None) or MlflowSource(
            tracking_uri=world.tracking_uri
        )
        s3_source = options.pop("s3_source", None) or S3Source(
            client=make_s3_client(endpoint_url=world.endpoint)
        )
        report = run_sync(
            mlflow_source=mlflow_source, s3_source=s3_source, options=SyncOptions(**options)
        )
        report.mlflow_source = mlflow_source
        report.s3_source = s3_source
        return report

    return sync


class ScratchDatabases:
    """Empty, migrated databases of the test database's engine, for subprocesses.

    Migrating costs a process start and every migration (~3 CPU s): it is done once, into
    a template, and each scratch database is a copy of it (SQLite's backup API, or
    PostgreSQL's ``CREATE DATABASE ... TEMPLATE``).
    """

    def __init__(self, directory: Path):
        self.directory = directory
        self.postgres = connection.vendor == "postgresql"
        self._template: str | None = None
        self._created: list[str] = []

    def new(self) -> str:
        """A fresh copy of the migrated template: its URL."""
        name = f"sync_scratch_{uuid.uuid4().hex[:10]}"
        template = self.template()
        if not self.postgres:
            import sqlite3

            path = self.directory / f"{name}.db"
            with (
                contextlib.closing(sqlite3.connect(template[len("sqlite:///") :])) as source,
                contextlib.closing(sqlite3.connect(path)) as copy,
            ):
                source.backup(copy)
            return f"sqlite:///{path}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template.rpartition("/")[2]}"')
        self._created.append(name)
        return f"{self._base_url()}/{name}"

    def drop(self, url: str) -> None:
        if self.postgres:
            name = url.rpartition("/")[2]
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self._created.remove(name)

    def template(self) -> str:
        if self._template is None:
            if self.postgres:
                name = f"sync_scratch_template_{uuid.uuid4().hex[:10]}"
                self._admin(f'CREATE DATABASE "{name}"')
                self._created.append(name)
                url = f"{self._base_url()}/{name}"
            else:
                url = f"sqlite:///{self.directory / 'template.db'}"
            env = {
                key: value
                for key, value in os.environ.items()
                if key not in {"DATABASE_TEST_NAME", "DJANGO_SETTINGS_MODULE"}
            }
            env.update(DATABASE_URL=url, DJANGO_INSECURE_DEV_KEY="1", DJANGO_SECURE="0")
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "-v0", "--skip-checks"],
                cwd=Path(__file__).resolve().parents[2],
                env=env,
                check=True,
                timeout=300,
            )
            self._template = url
        return self._template

    def close(self) -> None:
        for name in list(self._created):
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._created.clear()

    def _params(self) -> dict:
        settings = connection.settings_dict
        return {
            "host": settings["HOST"] or "127.0.0.1",
            "port": settings["PORT"] or 5432,
            "user": settings["USER"],
            "password": settings["PASSWORD"] or None,
        }

    def _base_url(self) -> str:
        params = self._params()
        auth = params["user"] + (f":{params['password']}" if params["password"] else "")
        return f"postgres://{auth}@{params['host']}:{params['port']}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(**self._params(), dbname="postgres", autocommit=True) as admin:
            admin.execute(sql)


@pytest.fixture(scope="session")
def scratch_databases(django_db_setup, tmp_path_factory):
    databases = ScratchDatabases(tmp_path_factory.mktemp("scratch-databases"))
    yield databases
    databases.close()


@pytest.fixture
def scratch_database_url(db, scratch_databases):
    """A fresh database of the same engine as the test database, migrated, with no rows."""
    url = scratch_databases.new()
    yield url
    scratch_databases.drop(url)
