"""Fill the catalogue's database directly (no sync) with a generated world.

Used by the page and leaderboard measurements, where what is measured is reading, not
syncing. Rows are written as the sync would leave them, with raw ``executemany`` in
batches (a million artifacts in a minute or two, where the ORM would take many).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

from benchmarks.fill_changes import change_event_rows, extra_sync_rows
from benchmarks.world import (
    BIG_FOLDER,
    LOGGED_MODEL_PATHS,
    METRIC_KEYS,
    World,
    _hex,
)

BATCH = 10_000
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def ms_to_dt(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def bulk_insert(model, rows: Iterable[dict], *, batch: int = BATCH) -> int:
    """Insert ``rows`` (attname -> Python value) into ``model``'s table; returns the count.

    Missing fields get their default; datetimes and JSON are adapted once per value
    the way Django would, everything else goes to the driver as is.
    """
    from django.db import connection, models, transaction

    fields = list(model._meta.concrete_fields)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({placeholders})"

    def converter(field):
        if isinstance(field, models.DateTimeField):
            return connection.ops.adapt_datetimefield_value
        if isinstance(field, models.JSONField):
            return lambda value: field.get_db_prep_save(value, connection)
        return None

    plan = [(field.attname, field.get_default(), converter(field)) for field in fields]
    count = 0
    pending: list[tuple] = []

    def flush() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, pending)
        pending.clear()

    for row in rows:
        values = []
        for attname, default, convert in plan:
            value = row.get(attname, default)
            if convert is not None and value is not None:
                value = convert(value)
            values.append(value)
        pending.append(tuple(values))
        count += 1
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
    return count


def _seen() -> dict:
    return {"first_seen": NOW, "last_seen": NOW, "missing_since": None, "fingerprint": ""}


class CatalogueFiller:
    """Writes one ``World`` into the catalogue's tables with explicit ids."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.size = world.size
        self.run_sizes: dict[int, tuple[int, int]] = {}

    # Primary keys are 1-based positions, so foreign keys need no lookups.
    @staticmethod
    def experiment_pk(experiment_id: str) -> int:
        return int(experiment_id)

    def fill(self) -> dict[str, int]:
        from catalog.models import (
            Artifact,
            ChangeEvent,
            Experiment,
            LoggedModel,
            MetricPoint,
            ModelVersion,
            RegisteredModel,
            Run,
            SyncRun,
        )

        counts = {}
        counts["experiments"] = bulk_insert(Experiment, self._experiment_rows())
        counts["runs"] = bulk_insert(Run, self._run_rows())
        counts["logged_models"] = bulk_insert(LoggedModel, self._logged_model_rows())
        counts["artifacts"] = bulk_insert(Artifact, self._artifact_rows())
        self._write_totals()
        counts["registered_models"] = bulk_insert(RegisteredModel, self._model_rows())
        counts["model_versions"] = bulk_insert(ModelVersion, self._version_rows())
        counts["metric_points"] = bulk_insert(MetricPoint, self._metric_point_rows())
        counts["sync_runs"] = bulk_insert(SyncRun, self._sync_run_rows())
        if self.size.change_events:
            counts["sync_runs"] += bulk_insert(SyncRun, extra_sync_rows(now=NOW))
            counts["change_events"] = bulk_insert(
                ChangeEvent, change_event_rows(self.world, now=NOW)
            )
        self._finish()
        return counts

    def _write_totals(self) -> None:
        """Per-run and per-experiment artifact totals, known once artifacts are written."""
        from django.db import connection, transaction

        experiments: dict[int, list[int]] = {}
        run_updates = []
        for run_index, (count, size) in self.run_sizes.items():
            run_updates.append((count, size, run_index + 1))
            entry = experiments.setdefault(run_index % self.size.experiments, [0, 0])
            entry[0] += count
            entry[1] += size
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(
                "UPDATE catalog_run SET artifact_count = %s, artifact_bytes = %s WHERE id = %s",
                run_updates,
            )
            cursor.executemany(
                "UPDATE catalog_experiment SET artifact_count = %s, artifact_bytes = %s"
                " WHERE id = %s",
                [(c, b, index + 1) for index, (c, b) in experiments.items()],
            )

    def _finish(self) -> None:
        from django.apps import apps
        from django.core.management.color import no_style
        from django.db import connection

        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                models = list(apps.get_app_config("catalog").get_models())
                for statement in connection.ops.sequence_reset_sql(no_style(), models):
                    cursor.execute(statement)
                # Autovacuum would analyze the new tables soon; do it now.
                cursor.execute("ANALYZE")

    # --- rows -----------------------------------------------------------------------
    def _experiment_rows(self) -> Iterator[dict]:
        for index in range(self.size.experiments):
            experiment_id = self.world.experiment_id(index)
            runs = len(range(index, self.size.runs, self.size.experiments))
            yield {
                "id": self.experiment_pk(experiment_id),
                "experiment_id": experiment_id,
                "name": f"/Shared/smartmaint/experiment-{index:04d}",
                "artifact_location": f"s3://{self.world.bucket}/{experiment_id}",
                "lifecycle_stage": "active" if index % 50 != 49 else "deleted",
                "mlflow_description": f"Sensor study {index}: **vibration** and temperature.",
                "tags": {"team": "smartmaint", "site": f"plant-{index % 7}"},
                "creation_time": ms_to_dt(self.world.run_start_ms(0) - 86_400_000),
                "last_update_time": ms_to_dt(self.world.run_start_ms(self.size.runs)),
                "run_count": runs,
                **_seen(),
            }

    def _run_rows(self) -> Iterator[dict]:
        for run in self.world.runs():
            start = self.world.run_start_ms(run.index)
            yield {
                "id": run.index + 1,
                "run_id": run.run_id,
                "experiment_id": self.experiment_pk(run.experiment_id),
                "name": f"train-{run.index:06d}",
                "status": "FINISHED" if run.index % 40 else "FAILED",
                "lifecycle_stage": "active" if run.index % 100 else "deleted",
                "user_id": f"engineer{run.index % 9}",
                "start_time": ms_to_dt(start),
                "end_time": ms_to_dt(start + 180_000),
                "artifact_uri": f"s3://{self.world.bucket}/{run.prefix}".rstrip("/"),
                "params": self.world.run_params(run.index),
                "metrics": self.world.run_metrics(run.index),
                "metrics_signature": _hex(f"sig-{run.index}", 64),
                "tags": {"mlflow.user": f"engineer{run.index % 9}", "stage": "dev"},
                **_seen(),
            }

    def _logged_model_rows(self) -> Iterator[dict]:
        for index in range(self.size.logged_models):
            experiment_id = self.world.logged_model_experiment(index)
            model_id = self.world.logged_model_id(index)
            run_index = index % self.size.runs
            yield {
                "id": index + 1,
                "model_id": model_id,
                "experiment_id": self.experiment_pk(experiment_id),
                "name": f"model-{index}",
                "run_id": run_index + 1,
                "source_run_id": self.world.run_id(run_index),
                "status": "READY",
                "artifact_location": (
                    f"s3://{self.world.bucket}/{experiment_id}/models/{model_id}/artifacts"
                ),
                "params": {"alpha": "0.1"},
                "metrics": {"rmse": 0.1},
                "creation_time": ms_to_dt(self.world.run_start_ms(run_index)),
                "last_updated_time": ms_to_dt(self.world.run_start_ms(run_index)),
                "artifact_count": len(LOGGED_MODEL_PATHS),
                "artifact_bytes": 1000,
                **_seen(),
            }

    def _model_rows(self) -> Iterator[dict]:
        versions = self.size.versions_per_model
        for index in range(self.size.registered_models):
            run = self.world.run(self.world.version_run_index(index, versions))
            yield {
                "id": index + 1,
                "name": self.world.model_name(index),
                "mlflow_description": f"Model {index} for plant {index % 7}.",
                "tags": {"owner": f"engineer{index % 9}"},
                "aliases": {"champion": versions},
                "creation_time": ms_to_dt(self.world.run_start_ms(index)),
                "last_updated_time": ms_to_dt(self.world.run_start_ms(index + versions)),
                "category": (
                    "anomaly_detection",
                    "classification",
                    "forecasting",
                    "preprocessing",
                    "other",
                )[index % 5],
                "latest_version": versions,
                "experiment_id": self.experiment_pk(run.experiment_id),
                **_seen(),
            }

    def _version_rows(self) -> Iterator[dict]:
        pk = 0
        for index in range(self.size.registered_models):
            for version in range(1, self.size.versions_per_model + 1):
                pk += 1
                run = self.world.run(self.world.version_run_index(index, version))
                yield {
                    "id": pk,
                    "registered_model_id": index + 1,
                    "version": version,
                    "source": f"runs:/{run.run_id}/model",
                    "run_id": run.index + 1,
                    "source_run_id": run.run_id,
                    "status": "READY",
                    "stage": "None",
                    "aliases": ["champion"] if version == self.size.versions_per_model else [],
                    "creation_time": ms_to_dt(self.world.run_start_ms(index + version)),
                    "last_updated_time": ms_to_dt(self.world.run_start_ms(index + version)),
                    "artifact_bucket": self.world.bucket,
                    "artifact_prefix": f"{run.prefix}model/",
                    "artifacts_present": True,
                    **_seen(),
                }

    def _metric_point_rows(self) -> Iterator[dict]:
        pk = 0
        for run_index in range(self.size.metric_history_runs):
            start = self.world.run_start_ms(run_index)
            for key in METRIC_KEYS:
                for step in range(self.size.metric_history_steps):
                    pk += 1
                    yield {
                        "id": pk,
                        "run_id": run_index + 1,
                        "key": key,
                        "step": step,
                        "timestamp": start + step * 1000,
                        "value": 0.5 + step / (10 * self.size.metric_history_steps),
                    }

    def _sync_run_rows(self) -> Iterator[dict]:
        for index in range(20):
            started = NOW - timedelta(hours=index)
            yield {
                "id": index + 1,
                "started_at": started,
                "finished_at": started + timedelta(minutes=3),
                "status": "ok",
                "counts": {"runs": self.size.runs, "artifacts": self.size.artifacts},
                "duration_s": 180.0,
            }

    def _artifact_rows(self) -> Iterator[dict]:
        world = self.world
        run_pk = {}
        lm_pk = {world.logged_model_id(i): i + 1 for i in range(self.size.logged_models)}
        for run in world.runs():
            run_pk[run.run_id] = run.index + 1
        last_modified = world.last_modified()
        for pk, (key, content) in enumerate(world.iter_objects(), start=1):
            parts = key.split("/")
            row = {
                "id": pk,
                "bucket": world.bucket,
                "key": key,
                "size": len(content),
                "etag": world.etag_of(content),
                "last_modified": last_modified,
                "meta": {},
                "meta_etag": "",
                **_seen(),
            }
            if parts[1] == "models" and parts[2] in lm_pk:
                path = "/".join(parts[4:])
                row["logged_model_id"] = lm_pk[parts[2]]
            elif parts[1] in run_pk:
                path = "/".join(parts[3:])
                run_index = run_pk[parts[1]] - 1
                row["run_id"] = run_index + 1
                count, size = self.run_sizes.get(run_index, (0, 0))
                self.run_sizes[run_index] = (count + 1, size + len(content))
            else:
                path = key
                row["orphan_folder"] = "/".join(parts[:2]) + "/"
            row["path"] = path
            row["folder"] = posixpath.dirname(path)
            name = path.rsplit("/", 1)[-1]
            if name == "MLmodel":
                row["meta"] = {
                    "kind": "mlmodel",
                    "flavors": ["python_function", "sklearn"],
                    "loader_module": "mlflow.sklearn",
                    "python_version": "3.11.9",
                    "mlflow_version": "3.17.2",
                    "serialization_format": "cloudpickle",
                    "model_size_bytes": None,
                    "model_uuid": None,
                    "run_id": None,
                    "utc_time_created": "2025-11-24 10:00:00.000000",
                    "signature": {
                        "inputs": [{"name": "vibration", "type": "double"}],
                        "outputs": [{"name": None, "type": "long"}],
                        "params": [],
                    },
                }
                row["meta_etag"] = row["etag"]
            elif name == "feature_names.txt":
                row["meta"] = {"kind": "feature_names", "features": ["sensor_0", "sensor_1"]}
                row["meta_etag"] = row["etag"]
            yield row


def create_reader(*, username: str = "bench", password: str = "bench-pass-123"):  # noqa: S107
    """An ordinary (non-staff) user the measurements log in as."""
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(username=username)
    user.set_password(password)
    user.save()
    return user


__all__ = ["BIG_FOLDER", "CatalogueFiller", "bulk_insert", "create_reader"]
