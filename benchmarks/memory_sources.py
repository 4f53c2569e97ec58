"""In-memory record streams with the methods of the sync's two sources.

They hand ``catalog.sync.service.run_sync`` a generated world without any I/O, so
measurement 2 sees only the catalogue's own cost. Records are made lazily as the sync
pulls them: memory holds no list of the world (but for a run id -> index map).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from benchmarks.world import World
from catalog.sync.records import (
    ArtifactRecord,
    ExperimentRecord,
    LoggedModelRecord,
    MetricRecord,
    ModelVersionRecord,
    RegisteredModelRecord,
    RunRecord,
    S3Root,
)

HISTORY_STEPS = 3


class MemoryMlflowSource:
    """The MLflow side of a ``World`` (``generation`` > 0: a changed world)."""

    def __init__(self, world: World, *, generation: int = 0, change_share: float = 0.0):
        self.world = world
        self.generation = generation
        self.change_share = change_share
        self.metric_history_calls = 0
        self._run_index: dict[str, int] | None = None

    def _changed(self, run_index: int) -> bool:
        return self.world.is_changed(
            run_index, generation=self.generation, change_share=self.change_share
        )

    def iter_experiments(self) -> Iterator[ExperimentRecord]:
        world = self.world
        for index in range(world.size.experiments):
            experiment_id = world.experiment_id(index)
            yield ExperimentRecord(
                experiment_id=experiment_id,
                name=f"/Shared/smartmaint/experiment-{index:04d}",
                artifact_location=f"s3://{world.bucket}/{experiment_id}",
                tags={"team": "smartmaint"},
                creation_time=world.run_start_ms(0),
                last_update_time=world.run_start_ms(0),
            )

    def iter_runs(self, *, experiment_ids: Iterable[str]) -> Iterator[RunRecord]:
        world = self.world
        for experiment_id in experiment_ids:
            experiment_index = int(experiment_id) - 1
            for index in range(experiment_index, world.size.runs, world.size.experiments):
                yield self._run_record(index)

    def _run_record(self, index: int) -> RunRecord:
        world = self.world
        run = world.run(index)
        start = world.run_start_ms(index)
        metrics = world.run_metrics(index, changed=self._changed(index))
        return RunRecord(
            run_id=run.run_id,
            experiment_id=run.experiment_id,
            name=f"train-{index:06d}",
            status="FINISHED",
            user_id=f"engineer{index % 9}",
            start_time=start,
            end_time=start + 180_000,
            artifact_uri=f"s3://{world.bucket}/{run.prefix}".rstrip("/"),
            params=world.run_params(index),
            metrics=tuple(
                MetricRecord(key=key, value=value, step=HISTORY_STEPS - 1, timestamp=start)
                for key, value in sorted(metrics.items())
            ),
            tags={"mlflow.user": f"engineer{index % 9}", "stage": "dev"},
        )

    def metric_histories(
        self, *, run_ids: Sequence[str], key: str
    ) -> dict[str, list[MetricRecord]]:
        """One metric's history of many runs in one call, as MLflow's bulk read."""
        self.metric_history_calls += 1
        if self._run_index is None:
            self._run_index = {self.world.run_id(i): i for i in range(self.world.size.runs)}
        return {run_id: self._history(self._run_index[run_id], key=key) for run_id in run_ids}

    def _history(self, index: int, *, key: str) -> list[MetricRecord]:
        start = self.world.run_start_ms(index)
        final = self.world.run_metrics(index, changed=self._changed(index))[key]
        return [
            MetricRecord(
                key=key, value=final * (step + 1) / HISTORY_STEPS, step=step, timestamp=start
            )
            for step in range(HISTORY_STEPS)
        ]

    def iter_logged_models(self, *, experiment_ids: Iterable[str]) -> Iterator[LoggedModelRecord]:
        world = self.world
        wanted = set(experiment_ids)
        for index in range(world.size.logged_models):
            experiment_id = world.logged_model_experiment(index)
            if experiment_id not in wanted:
                continue
            model_id = world.logged_model_id(index)
            run_index = index % world.size.runs
            yield LoggedModelRecord(
                model_id=model_id,
                experiment_id=experiment_id,
                name=f"model-{index}",
                source_run_id=world.run_id(run_index),
                status="READY",
                artifact_location=(
                    f"s3://{world.bucket}/{experiment_id}/models/{model_id}/artifacts"
                ),
                params={"alpha": "0.1"},
                metrics={"rmse": 0.1},
                creation_time=world.run_start_ms(run_index),
                last_updated_time=world.run_start_ms(run_index),
            )

    def iter_registered_models(self) -> Iterator[RegisteredModelRecord]:
        world = self.world
        versions = world.size.versions_per_model
        for index in range(world.size.registered_models):
            yield RegisteredModelRecord(
                name=world.model_name(index),
                description=f"Model {index}.",
                tags={"owner": f"engineer{index % 9}"},
                aliases={"champion": versions},
                creation_time=world.run_start_ms(index),
                last_updated_time=world.run_start_ms(index + versions),
            )

    def iter_model_versions(self) -> Iterator[ModelVersionRecord]:
        world = self.world
        for index in range(world.size.registered_models):
            for version in range(1, world.size.versions_per_model + 1):
                run = world.run(world.version_run_index(index, version))
                yield ModelVersionRecord(
                    model_name=world.model_name(index),
                    version=version,
                    source=f"runs:/{run.run_id}/model",
                    run_id=run.run_id,
                    status="READY",
                    stage="None",
                    creation_time=world.run_start_ms(index + version),
                    last_updated_time=world.run_start_ms(index + version),
                )


class MemoryS3Source:
    """The S3 side of a ``World``: listings by root, content of small files."""

    def __init__(self, world: World, *, generation: int = 0, change_share: float = 0.0):
        self.world = world
        self.generation = generation
        self.change_share = change_share
        self.get_object_calls = 0
        self.listed = 0

    def _experiment_indexes(self, prefix: str) -> list[int]:
        if not prefix:
            return list(range(self.world.size.experiments))
        head = prefix.split("/", 1)[0]
        if head.isdigit() and 1 <= int(head) <= self.world.size.experiments:
            return [int(head) - 1]
        return []

    def iter_root(self, *, root: S3Root) -> Iterator[ArtifactRecord]:
        world = self.world
        modified = world.last_modified()
        bucket = world.bucket
        if root.bucket != bucket:
            return
        keys = world.iter_keys(
            generation=self.generation,
            change_share=self.change_share,
            experiment_indexes=self._experiment_indexes(root.prefix),
        )
        prefix = root.prefix
        for key, _path, changed in keys:
            if not key.startswith(prefix):
                continue
            self.listed += 1
            etag, size = world.cheap_etag(key=key, changed=changed)
            yield ArtifactRecord(
                bucket=bucket, key=key, size=size, etag=etag, last_modified=modified
            )

    def read_head(self, *, bucket: str, key: str, max_bytes: int) -> bytes:
        self.get_object_calls += 1
        changed = "/v2" in key  # content is made from the key; MLmodel parses either way
        return self.world.file_bytes(key=key, path=key, changed=changed)[:max_bytes]
