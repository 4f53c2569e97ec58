"""A synthetic MLflow + S3 world of any size, generated deterministically.

The same ``WorldSize`` always yields the same experiments, runs, models and S3 keys, so
a world can be rebuilt (or streamed twice) without storing it. Its shape follows the
seed: experiments ``1/ .. N/``, runs laid out as ``{exp}/{run_id}/artifacts/{path}``
with ``model/`` (MLmodel, model.pkl, conda.yaml, python_env.yaml, requirements.txt),
``plots/`` (png, pdf), ``feature_names.txt``, ``sensor_config.txt`` and
``additional_artifacts/``; one run holds a big folder; a few orphans sit under
experiment 1; MLflow 3 logged models live under ``{exp}/models/m-<id>/artifacts/``.

``generation`` makes a changed world: with ``change_share`` 0.01, one run in a hundred
has new metrics and new content (new ETags) for all its files.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from benchmarks.config import BUCKET, WorldSize

T0_MS = 1_764_000_000_000  # 2025-11-24, start of the world's history
RUN_FILES = (
    "model/MLmodel",
    "model/model.pkl",
    "model/conda.yaml",
    "model/python_env.yaml",
    "model/requirements.txt",
    "plots/roc_curve.png",
    "plots/feature_importance.pdf",
    "feature_names.txt",
    "sensor_config.txt",
    "additional_artifacts/notes.txt",
)
LOGGED_MODEL_PATHS = ("MLmodel", "model.pkl", "conda.yaml")
BIG_FOLDER = "sensor_data"
METRIC_KEYS = ("accuracy", "f1", "precision", "recall", "roc_auc")
PARAM_KEYS = ("n_estimators", "max_depth", "learning_rate", "window", "sensor_set")
CATEGORIES = ("anomaly", "classifier", "forecast", "scaler", "other")


def _hex(seed: str, length: int = 32) -> str:
    return hashlib.md5(seed.encode(), usedforsecurity=False).hexdigest()[:length]


@dataclass(frozen=True)
class RunSpec:
    """One run of the world: its index, ids and where its files live."""

    index: int
    run_id: str
    experiment_id: str

    @property
    def prefix(self) -> str:
        return f"{self.experiment_id}/{self.run_id}/artifacts/"


class World:
    """The generated world for one ``WorldSize``."""

    def __init__(self, size: WorldSize, *, bucket: str = BUCKET, run_ids: list[str] | None = None):
        self.size = size
        self.bucket = bucket
        # Real MLflow stores choose run ids themselves; the end-to-end world passes them in.
        self._run_ids = run_ids
        self._common_run_files: list[str] | None = None

    # --- ids ------------------------------------------------------------------------
    def experiment_id(self, index: int) -> str:
        return str(index + 1)

    def experiment_ids(self) -> list[str]:
        return [self.experiment_id(i) for i in range(self.size.experiments)]

    def run_id(self, index: int) -> str:
        if self._run_ids is not None:
            return self._run_ids[index]
        return _hex(f"run-{index}")

    def run(self, index: int) -> RunSpec:
        return RunSpec(
            index=index,
            run_id=self.run_id(index),
            experiment_id=self.experiment_id(index % self.size.experiments),
        )

    def runs(self) -> Iterator[RunSpec]:
        for index in range(self.size.runs):
            yield self.run(index)

    def big_run(self) -> RunSpec:
        """The run that holds the big folder (run 0, in experiment 1)."""
        return self.run(0)

    def logged_model_id(self, index: int) -> str:
        return f"m-{_hex(f'lm-{index}')}"

    def logged_model_experiment(self, index: int) -> str:
        return self.experiment_id(index % self.size.experiments)

    def model_name(self, index: int) -> str:
        return f"{CATEGORIES[index % len(CATEGORIES)]}_model_{index:05d}"

    def version_run_index(self, model_index: int, version: int) -> int:
        """Which run made version ``version`` (1-based) of model ``model_index``."""
        return (model_index * 7 + version * 13) % self.size.runs

    # --- change ---------------------------------------------------------------------
    def is_changed(self, run_index: int, *, generation: int, change_share: float) -> bool:
        """Whether this run differs in ``generation`` from generation 0."""
        if generation == 0 or change_share <= 0:
            return False
        stride = max(1, round(1 / change_share))
        return run_index % stride == generation % stride

    # --- run content ----------------------------------------------------------------
    def run_metrics(self, index: int, *, changed: bool = False) -> dict[str, float]:
        base = (int(_hex(f"m-{index}", 6), 16) % 1000) / 1000
        bump = 0.001 if changed else 0.0
        return {key: round(base / (k + 1) + bump, 6) for k, key in enumerate(METRIC_KEYS)}

    def run_params(self, index: int) -> dict[str, str]:
        return {key: str((index * (k + 3)) % 97) for k, key in enumerate(PARAM_KEYS)}

    def run_start_ms(self, index: int) -> int:
        return T0_MS + index * 60_000

    def run_files(self, run: RunSpec) -> list[str]:
        """Paths under the run's artifacts/ folder."""
        paths = list(RUN_FILES[: self.size.files_per_run])
        paths += [f"extra/file_{j}.txt" for j in range(self.size.files_per_run - len(paths))]
        if run.index == 0 and self.size.big_folder_files:
            paths += [f"{BIG_FOLDER}/part-{j:05d}.csv" for j in range(self.size.big_folder_files)]
        return paths

    def file_bytes(self, *, key: str, path: str, changed: bool = False) -> bytes:
        """Content of a file: real YAML for MLmodel, a list for feature_names.txt."""
        name = path.rsplit("/", 1)[-1]
        salt = "v2" if changed else "v1"
        if name == "MLmodel":
            return (
                "artifact_path: model\n"
                "flavors:\n"
                "  python_function:\n"
                "    loader_module: mlflow.sklearn\n"
                "    python_version: 3.11.9\n"
                "  sklearn:\n"
                "    serialization_format: cloudpickle\n"
                "    sklearn_version: 1.5.2\n"
                f"mlflow_version: 3.17.2\nmodel_uuid: {_hex(key + salt)}\n"
                "signature:\n"
                '  inputs: \'[{"type": "double", "name": "vibration"}]\'\n'
                '  outputs: \'[{"type": "long"}]\'\n'
                "utc_time_created: '2025-11-24 10:00:00.000000'\n"
            ).encode()
        if name == "feature_names.txt":
            return ("\n".join(f"sensor_{j}" for j in range(12)) + f"\n# {salt}\n").encode()
        # Sizes vary by file so the byte totals are not trivially uniform.
        length = 64 + int(_hex(key, 4), 16) % 448
        return (f"{key} {salt} ".encode() * (length // 16 + 1))[:length]

    def etag_of(self, content: bytes) -> str:
        return hashlib.md5(content, usedforsecurity=False).hexdigest()

    # --- S3 objects -----------------------------------------------------------------
    def iter_objects(
        self, *, generation: int = 0, change_share: float = 0.0
    ) -> Iterator[tuple[str, bytes]]:
        """Every (key, content) of the bucket, grouped by experiment root."""
        for key, path, changed in self.iter_keys(generation=generation, change_share=change_share):
            yield key, self.file_bytes(key=key, path=path, changed=changed)

    def iter_keys(
        self,
        *,
        generation: int = 0,
        change_share: float = 0.0,
        experiment_indexes: Iterable[int] | None = None,
    ) -> Iterator[tuple[str, str, bool]]:
        """Every (key, path, changed) of the bucket (or of the given experiments' roots),
        in S3's listing order: "1/", "10/", "100/" ... "2/" ..., each root's keys sorted.
        """
        indexes = range(self.size.experiments) if experiment_indexes is None else experiment_indexes
        for experiment_index in sorted(indexes, key=lambda i: f"{self.experiment_id(i)}/"):
            yield from self._iter_experiment_keys(
                experiment_index, generation=generation, change_share=change_share
            )

    def cheap_etag(self, *, key: str, changed: bool) -> tuple[str, int]:
        """(ETag, size) without making the content: for in-memory streams.

        A CRC instead of an MD5: the streams stand in for sources that cost nothing, so
        what they spend per object is kept small (the catalogue never reads an ETag's
        bits, only compares it).
        """
        crc = zlib.crc32(key.encode(), 2 if changed else 1)
        return f"{crc:08x}" * 4, 64 + crc % 448

    def _iter_experiment_keys(
        self, experiment_index: int, *, generation: int, change_share: float
    ) -> Iterator[tuple[str, str, bool]]:
        # In S3's listing order (the keys' code point order), as a real walk of the
        # root sees them: folder by folder, each folder's files sorted. No folder
        # prefix is the start of another, so the folders' order is their keys' order.
        experiment_id = self.experiment_id(experiment_index)
        folders: list[tuple[str, list[str], bool, bool]] = []  # prefix, paths, changed, orphan
        for run_index in range(experiment_index, self.size.runs, self.size.experiments):
            run = self.run(run_index)
            changed = self.is_changed(run_index, generation=generation, change_share=change_share)
            folders.append((run.prefix, self._listed_run_files(run), changed, False))
        model_paths = sorted(LOGGED_MODEL_PATHS)
        for lm_index in range(experiment_index, self.size.logged_models, self.size.experiments):
            model_id = self.logged_model_id(lm_index)
            folders.append(
                (f"{experiment_id}/models/{model_id}/artifacts/", model_paths, False, False)
            )
        if experiment_index == 0:
            groups: dict[str, list[str]] = {}
            for j in range(self.size.orphans):
                prefix = f"{experiment_id}/{_hex(f'orphan-{j // 10}')}/artifacts/"
                groups.setdefault(prefix, []).append(f"leftover_{j}.bin")
            folders += [(prefix, sorted(names), False, True) for prefix, names in groups.items()]
        folders.sort()
        for prefix, paths, changed, orphan in folders:
            for path in paths:
                key = prefix + path
                # An orphan belongs to no run: its path is the whole key.
                yield key, key if orphan else path, changed

    def _listed_run_files(self, run: RunSpec) -> list[str]:
        """``run_files`` in listing order (the common list sorted once)."""
        if run.index == 0 and self.size.big_folder_files:
            return sorted(self.run_files(run))
        if self._common_run_files is None:
            self._common_run_files = sorted(self.run_files(run))
        return self._common_run_files

    def last_modified(self) -> datetime:
        return datetime(2025, 11, 24, 10, 0, tzinfo=UTC)
