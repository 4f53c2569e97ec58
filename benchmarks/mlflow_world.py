"""A real MLflow tracking + registry store (sqlite) holding a generated world.

Written through MLflow's own SQLAlchemy stores (the same code ``mlflow server`` runs),
in-process, which is about 15 ms a run. MLflow picks run ids itself, so the store is
cached under ``var/bench/worlds/`` with its run ids beside it and reused while the
world's size is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from benchmarks import common
from benchmarks.config import BENCH_DIR, WorldSize
from benchmarks.world import METRIC_KEYS, World

WORLDS_DIR = BENCH_DIR / "worlds"
HISTORY_STEPS = 3


def _fingerprint(size: WorldSize, bucket: str) -> str:
    payload = json.dumps({"size": size.as_dict(), "bucket": bucket}, sort_keys=True).encode()
    digest = hashlib.sha256(payload)
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:12]


def mlflow_world(size: WorldSize, *, bucket: str) -> tuple[Path, World]:
    """The cached sqlite store of ``size`` (built if needed) and its ``World``.

    Use a copy of the returned file if the store will be written to.
    """
    WORLDS_DIR.mkdir(parents=True, exist_ok=True)
    name = f"mlflow-{_fingerprint(size, bucket)}"
    db_path = WORLDS_DIR / f"{name}.db"
    ids_path = WORLDS_DIR / f"{name}.run_ids.json"
    if db_path.exists() and ids_path.exists():
        run_ids = json.loads(ids_path.read_text())
        return db_path, World(size, bucket=bucket, run_ids=run_ids)
    building = WORLDS_DIR / f"{name}.building.db"
    building.unlink(missing_ok=True)
    started = common.timed(_build, building, size=size, bucket=bucket)
    seconds, run_ids = started
    shutil.move(building, db_path)
    ids_path.write_text(json.dumps(run_ids))
    common.log(f"built MLflow store {db_path.name} ({size.runs} runs) in {seconds:.0f}s")
    return db_path, World(size, bucket=bucket, run_ids=run_ids)


def _build(db_path: Path, *, size: WorldSize, bucket: str) -> list[str]:
    import logging

    from mlflow.entities import Metric, Param, RunStatus, RunTag
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    uri = f"sqlite:///{db_path}"
    tracking = TrackingStore(uri, f"s3://{bucket}")
    registry = RegistryStore(uri)
    template = World(size, bucket=bucket)
    experiment_ids = []
    for index in range(size.experiments):
        experiment_id = tracking.create_experiment(
            f"/Shared/smartmaint/experiment-{index:04d}",
            tags=[RunTag("team", "smartmaint")],
        )
        if experiment_id != template.experiment_id(index):
            raise RuntimeError(f"MLflow numbered experiment {index} as {experiment_id}")
        experiment_ids.append(experiment_id)
    run_ids = []
    for index in range(size.runs):
        start = template.run_start_ms(index)
        run = tracking.create_run(
            experiment_id=experiment_ids[index % size.experiments],
            user_id=f"engineer{index % 9}",
            start_time=start,
            tags=[RunTag("stage", "dev")],
            run_name=f"train-{index:06d}",
        )
        run_id = run.info.run_id
        final = template.run_metrics(index)
        metrics = [
            Metric(key, round(value * (step + 1) / HISTORY_STEPS, 6), start + step, step)
            for key, value in final.items()
            for step in range(HISTORY_STEPS)
        ]
        params = [Param(key, value) for key, value in template.run_params(index).items()]
        tracking.log_batch(run_id, metrics=metrics, params=params, tags=[])
        tracking.update_run_info(run_id, RunStatus.FINISHED, start + 180_000, None)
        run_ids.append(run_id)
    world = World(size, bucket=bucket, run_ids=run_ids)
    for index in range(size.registered_models):
        name = world.model_name(index)
        registry.create_registered_model(name, description=f"Model {index}.")
        for version in range(1, size.versions_per_model + 1):
            run = world.run(world.version_run_index(index, version))
            registry.create_model_version(name, f"runs:/{run.run_id}/model", run_id=run.run_id)
        registry.set_registered_model_alias(name, "champion", str(size.versions_per_model))
    return run_ids


__all__ = ["METRIC_KEYS", "mlflow_world"]
