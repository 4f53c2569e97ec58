"""Builders for test data: the one place tests make catalogue rows.

Each builder takes keyword overrides and fills the rest with plausible values, so a
test states only what it is about. Rows are made as the sync would leave them
(``first_seen``/``last_seen`` set, ``missing_since`` null).
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.core import serializers
from django.core.management.color import no_style
from django.db import connection, transaction

from catalog.models import (
    Artifact,
    ChangeEvent,
    Experiment,
    LoggedModel,
    ModelVersion,
    RegisteredModel,
    Run,
    SyncRun,
)

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
BUCKET = "yan-smart-maintenance-artifacts"
_sequence = itertools.count(1)


def _seen() -> dict:
    return {"first_seen": NOW, "last_seen": NOW}


def make_experiment(**overrides) -> Experiment:
    """An active experiment with artifact location ``s3://BUCKET/<id>``."""
    number = next(_sequence)
    experiment_id = overrides.pop("experiment_id", str(number))
    values = {
        "experiment_id": experiment_id,
        "name": f"Experiment {experiment_id}",
        "artifact_location": f"s3://{BUCKET}/{experiment_id}",
        "creation_time": NOW,
        **_seen(),
    }
    values.update(overrides)
    return Experiment.objects.create(**values)


def make_run(*, experiment: Experiment | None = None, **overrides) -> Run:
    """A finished run of ``experiment`` (a new one if not given)."""
    experiment = experiment or make_experiment()
    run_id = overrides.pop("run_id", uuid.uuid4().hex)
    values = {
        "run_id": run_id,
        "experiment": experiment,
        "name": f"run-{run_id[:6]}",
        "status": "FINISHED",
        "start_time": NOW,
        "end_time": NOW + timedelta(minutes=3),
        "artifact_uri": f"{experiment.artifact_location}/{run_id}/artifacts",
        "params": {"n_estimators": "100"},
        "metrics": {"accuracy": 0.95},
        **_seen(),
    }
    values.update(overrides)
    return Run.objects.create(**values)


def make_registered_model(**overrides) -> RegisteredModel:
    values = {"name": f"model_{next(_sequence)}", "creation_time": NOW, **_seen()}
    values.update(overrides)
    return RegisteredModel.objects.create(**values)


def make_model_version(
    *, registered_model: RegisteredModel | None = None, run: Run | None = None, **overrides
) -> ModelVersion:
    """Version N+1 of ``registered_model``, made from ``run`` (new ones if not given)."""
    registered_model = registered_model or make_registered_model()
    run = run or make_run()
    version = overrides.pop("version", registered_model.versions.count() + 1)
    values = {
        "registered_model": registered_model,
        "version": version,
        "source": f"runs:/{run.run_id}/model",
        "run": run,
        "source_run_id": run.run_id,
        "status": "READY",
        "creation_time": NOW,
        "artifact_bucket": BUCKET,
        "artifact_prefix": f"{run.experiment.experiment_id}/{run.run_id}/artifacts/model/",
        "artifacts_present": True,
        **_seen(),
    }
    values.update(overrides)
    return ModelVersion.objects.create(**values)


def make_logged_model(*, experiment: Experiment | None = None, **overrides) -> LoggedModel:
    experiment = experiment or make_experiment()
    model_id = overrides.pop("model_id", f"m-{uuid.uuid4().hex}")
    values = {
        "model_id": model_id,
        "experiment": experiment,
        "name": "model",
        "status": "READY",
        "artifact_location": f"{experiment.artifact_location}/models/{model_id}/artifacts",
        "creation_time": NOW,
        **_seen(),
    }
    values.update(overrides)
    return LoggedModel.objects.create(**values)


def make_artifact(
    *, run: Run | None = None, logged_model: LoggedModel | None = None, path: str = "", **overrides
) -> Artifact:
    """An S3 object. Owned by ``run`` or ``logged_model`` when given, else an orphan.

    ``path`` is relative to the owner's ``artifacts/`` folder; for an orphan pass ``key``.
    """
    if run is not None:
        key = f"{run.experiment.experiment_id}/{run.run_id}/artifacts/{path}"
    elif logged_model is not None:
        key = (
            f"{logged_model.experiment.experiment_id}/models/"
            f"{logged_model.model_id}/artifacts/{path}"
        )
    else:
        key = overrides.pop("key", path or f"orphans/{uuid.uuid4().hex}/file.bin")
        path = key
    values = {
        "bucket": BUCKET,
        "key": key,
        "run": run,
        "logged_model": logged_model,
        "path": path,
        "folder": path.rsplit("/", 1)[0] if "/" in path else "",
        "size": 1234,
        "etag": uuid.uuid4().hex,
        "last_modified": NOW,
        **_seen(),
    }
    values.update(overrides)
    return Artifact.objects.create(**values)


def make_sync_run(**overrides) -> SyncRun:
    values = {
        "started_at": NOW,
        "finished_at": NOW + timedelta(seconds=5),
        "status": SyncRun.Status.OK,
        "duration_s": 5.0,
        "counts": {},
    }
    values.update(overrides)
    return SyncRun.objects.create(**values)


def make_artifacts_bulk(
    *,
    paths: list[str],
    run: Run | None = None,
    logged_model: LoggedModel | None = None,
    size: int = 1000,
    batch_size: int = 2000,
) -> int:
    """Many artifacts of one owner in a few INSERTs (bulk_create): for scale tests.

    Keys, folders and ETags follow the same rules as ``make_artifact``; returns the count.
    """
    if run is not None:
        prefix = f"{run.experiment.experiment_id}/{run.run_id}/artifacts/"
    elif logged_model is not None:
        prefix = (
            f"{logged_model.experiment.experiment_id}/models/{logged_model.model_id}/artifacts/"
        )
    else:
        raise ValueError("make_artifacts_bulk needs a run or a logged_model")
    rows = [
        Artifact(
            bucket=BUCKET,
            key=prefix + path,
            run=run,
            logged_model=logged_model,
            path=path,
            folder=path.rsplit("/", 1)[0] if "/" in path else "",
            size=size,
            etag=uuid.uuid5(uuid.NAMESPACE_URL, prefix + path).hex,
            last_modified=NOW,
            **_seen(),
        )
        for path in paths
    ]
    Artifact.objects.bulk_create(rows, batch_size=batch_size)
    return len(rows)


def _event_subject(entity) -> dict:
    """The ChangeEvent fields that name ``entity``, as the sync fills them."""
    Entity = ChangeEvent.Entity
    if isinstance(entity, Experiment):
        return {
            "entity_type": Entity.EXPERIMENT,
            "entity_key": entity.experiment_id,
            "entity_name": entity.name,
            "experiment": entity,
        }
    if isinstance(entity, Run):
        return {
            "entity_type": Entity.RUN,
            "entity_key": entity.run_id,
            "entity_name": entity.name,
            "experiment": entity.experiment,
        }
    if isinstance(entity, RegisteredModel):
        return {
            "entity_type": Entity.REGISTERED_MODEL,
            "entity_key": entity.name,
            "entity_name": entity.name,
            "registered_model": entity,
            "experiment": entity.experiment,
        }
    if isinstance(entity, ModelVersion):
        name = entity.registered_model.name
        return {
            "entity_type": Entity.MODEL_VERSION,
            "entity_key": f"{name}/v{entity.version}",
            "entity_name": f"{name} v{entity.version}",
            "registered_model": entity.registered_model,
            "experiment": entity.run.experiment if entity.run_id else None,
        }
    if isinstance(entity, LoggedModel):
        return {
            "entity_type": Entity.LOGGED_MODEL,
            "entity_key": entity.model_id,
            "entity_name": entity.name,
            "experiment": entity.experiment,
        }
    raise TypeError(f"no change events for {type(entity).__name__}")


def make_change_event(
    *,
    entity=None,
    kind: str = ChangeEvent.Kind.UPDATED,
    sync_run: SyncRun | None = None,
    **overrides,
) -> ChangeEvent:
    """A change event as the sync writes it (see ``ChangeEvent``'s docstring).

    ``entity`` is the row it is about (experiment, run, registered model, model version
    or logged model): its type, pk, natural key (``"name/v3"`` for a version), name,
    experiment and registered model are filled from it. Without one, pass
    ``entity_type`` and ``entity_key`` (an orphan folder ``s3://bucket/folder/``, the
    catalogue). ``occurred_at`` is the sync's start. ``changes`` maps a field to
    ``[old, new]``: ``{"metrics.rmse": [0.41, 0.38]}``, ``{"@production": [3, 4]}``.
    With neither, a run's status update.
    """
    values = {
        "sync_run": sync_run,
        "occurred_at": sync_run.started_at if sync_run is not None else NOW,
        "kind": kind,
        "changes": {},
        "summary": "",
    }
    if entity is not None:
        values.update(_event_subject(entity), object_pk=entity.pk)
    elif "entity_type" not in overrides:
        values.update(
            entity_type=ChangeEvent.Entity.RUN,
            entity_key=uuid.uuid4().hex,
            entity_name="a run",
            changes={"status": ["RUNNING", "FINISHED"]},
            summary="status RUNNING -> FINISHED",
        )
    values.update(overrides)
    return ChangeEvent.objects.create(**values)


DEMO_WORLD_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "demo_world.json"


def load_demo_world() -> int:
    """The rows of fixtures/demo_world.json, as ``loaddata`` writes them, in a few INSERTs.

    ``loaddata`` saves its 1,946 objects one by one (a second of CPU, paid by every test
    that starts from the demo world); tests/demo/test_fixture.py loads the fixture with
    ``loaddata`` itself. The catalogue's models have no save signals and no ``auto_now``
    fields in the fixture, so a plain ``bulk_create`` stores the same values. Returns
    the number of rows.
    """
    with DEMO_WORLD_FIXTURE.open(encoding="utf-8") as handle:
        objects = [item.object for item in serializers.deserialize("json", handle)]
    by_model: dict[type, list] = {}
    for obj in objects:
        by_model.setdefault(type(obj), []).append(obj)
    with transaction.atomic():
        for model, rows in by_model.items():
            model._base_manager.bulk_create(rows)
        # As loaddata does: id sequences past the fixture's ids (PostgreSQL), so rows a
        # test adds afterwards get fresh ids.
        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(no_style(), list(by_model)):
                cursor.execute(statement)
    return len(objects)
