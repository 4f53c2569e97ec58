"""The poison world: a small MLflow + S3 world where each item is hostile in one way.

Built with the real mlflow client into a real tracking store (a sqlite file) and an S3
bucket served by moto, like the sync tests' worlds (``tests/sync/conftest.py``). The
experiment "Pump maintenance" holds a clean run (a real saved sklearn model, a plot,
feature names) with its registered model, and one run per run-level poison; the
experiment note and the HTML names come with experiments of their own. ``POISONS``
names each poison's builder: the full world has them all, and a world of the clean
items plus one poison shows that poison's effect alone.

Some poisons cannot be written through MLflow's API, but a hostile or buggy writer with
access to the tracking database (or another MLflow version, or another backend) can
leave them there, so the builder writes them straight into the store's sqlite tables
after the API calls:

* ``+inf`` / ``-inf`` metric values: the SQLAlchemy store replaces them with
  ``±1.7976931348623157e308`` (``SqlAlchemyStore.sanitize_metric_value``); the builder
  puts the real infinities back into ``metrics`` and ``latest_metrics``;
* the registered model ``a/../../admin``: ``_validate_model_name`` refuses ``/``; the
  model is created under a placeholder name and renamed in ``registered_models`` and
  ``model_versions``.

MLflow accepts a NUL character in a param value and 600-character run and registered
model names through its API, so those go through the API. S3 accepts a NUL in a key
(moto too); MLflow cannot log a local file of that name, so that object is put with
boto3 beside the run's other artifacts, where ``log_artifact`` would have put it.
"""

from __future__ import annotations

import functools
import math
import sqlite3
import struct
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import boto3

from tests.sync.conftest import Templates, World

POISON_BUCKET = "poison-world"
CLEAN_EXPERIMENT = "Pump maintenance"
HTML_EXPERIMENT = "<script>alert(1)</script>"
HTML_RUN = '<script>alert("run")</script>'
HTML_MODEL = "<img src=x onerror=alert(1)>"
CLEAN_MODEL = "pump_failure_classifier"
LONG_RUN_NAME = "r" * 599 + "!"
LONG_MODEL_NAME = "m" * 599 + "!"
TRAVERSAL_MODEL = "a/../../admin"
NOTE_CONTENT = "[" * 20_000
NUL_PARAM_VALUE = "before\x00after"
NUL_KEY_NAME = "bad\x00name.txt"
ODD_IMAGE_PATH = "plots/a#b?c+d%e f ü.png"
ODD_TEXT_PATH = "notes/50% done + more?#1 ü.txt"
ODD_TEXT_BODY = b"odd path, plain bytes\n"
SIGNATURE_DEPTH = 5_000
HUGE_IMAGE_SIZE = (7_000, 5_650)  # 39.55 megapixels: under the catalogue's 40 M pixel cap

TRAVERSAL_PLACEHOLDER = "traversal_placeholder"


@dataclass
class PoisonWorld(World):
    """A built poison world: ``run_ids`` by label ("clean" and each run's poison)."""

    poisons: tuple[str, ...] = ()
    run_experiments: dict[str, str] = field(default_factory=dict)
    clean_keys: list[str] = field(default_factory=list)
    nul_key: str = ""
    odd_bodies: dict[str, bytes] = field(default_factory=dict)
    # Edits of the tracking database that MLflow's API refuses (see the module doc).
    store_edits: list[Callable[[sqlite3.Connection, PoisonWorld], None]] = field(
        default_factory=list
    )

    def run_key(self, label: str, path: str) -> str:
        """The S3 key of ``path`` under the artifacts of run ``label``."""
        experiment_id = self.experiment_ids[self.run_experiments[label]]
        return f"{experiment_id}/{self.run_ids[label]}/artifacts/{path}"


def deep_signature_mlmodel(*, depth: int = SIGNATURE_DEPTH) -> bytes:
    """An ``MLmodel`` whose ``signature.inputs`` is a JSON array nested ``depth`` deep."""
    nested = "[" * depth + "]" * depth
    return (
        "artifact_path: model\n"
        "flavors:\n"
        "  python_function:\n"
        "    loader_module: mlflow.sklearn\n"
        "    python_version: 3.11.9\n"
        "mlflow_version: 3.1.0\n"
        "signature:\n"
        f"  inputs: '{nested}'\n"
        '  outputs: \'[{"type": "long", "tensor-spec": {"dtype": "int64"}}]\'\n'
    ).encode()


def alias_bomb(*, levels: int = 7, fan_out: int = 9) -> str:
    """YAML anchors ``levels`` deep, each a list of ``fan_out`` aliases of the one before.

    One flow sequence holding every level; its last level alone expands to
    ``fan_out ** levels`` strings (4.8 million for 9 and 7) from about 200 bytes.
    """
    parts = ["&l0 [" + ", ".join(["lol"] * fan_out) + "]"]
    for level in range(1, levels):
        parts.append(f"&l{level} [" + ", ".join([f"*l{level - 1}"] * fan_out) + "]")
    return "[" + ", ".join(parts) + "]"


def alias_bomb_mlmodel() -> bytes:
    """An ``MLmodel`` whose ``mlflow_version`` is an alias bomb."""
    return (
        "artifact_path: model\n"
        "flavors:\n"
        "  python_function:\n"
        "    loader_module: mlflow.sklearn\n"
        f"mlflow_version: {alias_bomb()}\n"
    ).encode()


def alias_bomb_conda_yaml() -> bytes:
    """A ``conda.yaml`` whose ``name`` is an alias bomb."""
    return (
        f"name: {alias_bomb()}\n"
        "channels:\n  - conda-forge\n"
        "dependencies:\n  - python=3.11\n  - pip:\n    - scikit-learn==1.5.2\n"
    ).encode()


@functools.lru_cache(maxsize=8)
def flat_png(*, size: tuple[int, int], color: tuple[int, int, int] = (30, 120, 200)) -> bytes:
    """A real RGB PNG of one colour, encoded row by row (never ``width*height*3`` bytes)."""
    width, height = size
    row = b"\x00" + bytes(color) * width
    compressor = zlib.compressobj(9)
    idat = b"".join([*(compressor.compress(row) for _ in range(height)), compressor.flush()])

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def _write(base: Path, relative: str, body: bytes) -> Path:
    path = base / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path


def _log_file(client, run_id: str, local: Path, artifact_path: str) -> None:
    folder = artifact_path.rpartition("/")[0] or None
    client.log_artifact(run_id, str(local), folder)


class _Builder:
    """What the poison builders share: the client, the world, the bucket, a files dir."""

    def __init__(self, *, client, world: PoisonWorld, s3, files: Path, templates: Templates):
        self.client = client
        self.templates = templates
        self.world = world
        self.s3 = s3
        self.files = files

    def experiment(self, label: str, name: str, **tags: str) -> str:
        # The store numbers experiments 1, 2, ... after its Default (0): the artifact
        # location is known before the experiment exists, as on a real server.
        number = str(len(self.world.experiment_ids) + 1)
        experiment_id = self.client.create_experiment(
            name, artifact_location=f"s3://{self.world.bucket}/{number}", tags=tags or None
        )
        assert experiment_id == number, (experiment_id, number)
        self.world.experiment_ids[label] = experiment_id
        return experiment_id

    def run(self, label: str, *, experiment: str = "clean", run_name: str | None = None) -> str:
        run = self.client.create_run(
            self.world.experiment_ids[experiment], run_name=run_name or f"{label}-run"
        )
        run_id = run.info.run_id
        self.world.run_ids[label] = run_id
        self.world.run_experiments[label] = experiment
        self.client.log_param(run_id, "n_estimators", "100")
        return run_id

    def log_bytes(self, run_id: str, artifact_path: str, body: bytes) -> None:
        """Log ``body`` as ``artifact_path`` of the run, through MLflow's own upload."""
        local = self.files / run_id / artifact_path
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(body)
        self.client.log_artifact(run_id, str(local), artifact_path.rpartition("/")[0] or None)

    def model(self, name: str, *, run_id: str, description: str | None = None) -> None:
        self.client.create_registered_model(name, description=description)
        self.client.create_model_version(name, source=f"runs:/{run_id}/model", run_id=run_id)


def _clean(build: _Builder) -> None:
    """A clean run: a real saved model, a small plot, feature names, a metric history."""
    run_id = build.run("clean")
    for step, value in enumerate([0.81, 0.86, 0.9]):
        build.client.log_metric(run_id, "accuracy", value, step=step)
    build.client.log_artifacts(run_id, str(build.templates.model_folder), "model")
    clean_files = {
        "plots/roc.png": flat_png(size=(64, 48)),
        "feature_names.txt": b"temperature\nvibration_rms\npressure\n",
    }
    for relative, body in clean_files.items():
        build.log_bytes(run_id, relative, body)
    build.model(CLEAN_MODEL, run_id=run_id, description="Pump failures, **clean**")
    build.world.clean_keys = [
        build.world.run_key("clean", relative)
        for relative in ["model/MLmodel", "model/model.pkl", "model/conda.yaml", *clean_files]
    ]


def _deep_signature(build: _Builder) -> None:
    """1. An MLmodel whose signature inputs nest 5,000 deep (about 10 KB of brackets)."""
    run_id = build.run("deep_signature")
    build.log_bytes(run_id, "model/MLmodel", deep_signature_mlmodel())


def _alias_bomb(build: _Builder) -> None:
    """2. Alias bombs: an MLmodel's ``mlflow_version`` and a conda.yaml's ``name``."""
    run_id = build.run("alias_bomb")
    build.log_bytes(run_id, "model/MLmodel", alias_bomb_mlmodel())
    build.log_bytes(run_id, "model/conda.yaml", alias_bomb_conda_yaml())


def _note(build: _Builder) -> None:
    """3. An experiment note of 20,000 ``[`` (MLflow's own limit for a tag value)."""
    build.experiment("note", "Bracketed notes", **{"mlflow.note.content": NOTE_CONTENT})
    run_id = build.run("note", experiment="note")
    build.client.log_metric(run_id, "accuracy", 0.6)


def _long_names(build: _Builder) -> None:
    """4. A 600-character run name and registered model name (with a version)."""
    run_id = build.run("long_names", run_name=LONG_RUN_NAME)
    build.client.log_metric(run_id, "accuracy", 0.5)
    build.model(LONG_MODEL_NAME, run_id=run_id)


def _nul_param(build: _Builder) -> None:
    """5. A param value holding a NUL (MLflow's API accepts it)."""
    run_id = build.run("nul_param")
    build.client.log_param(run_id, "comment", NUL_PARAM_VALUE)


def _nul_key(build: _Builder) -> None:
    """6. An S3 key holding a NUL, put with boto3 beside the run's clean artifacts."""
    run_id = build.run("nul_key")
    build.log_bytes(run_id, "sensor_config.txt", b"sensor=001\n")
    build.world.nul_key = build.world.run_key("nul_key", NUL_KEY_NAME)
    build.s3.put_object(Bucket=build.world.bucket, Key=build.world.nul_key, Body=b"hostile\n")


def _inf_metrics(build: _Builder) -> None:
    """7. Histories holding +inf and -inf (made real in the store's tables afterwards)."""
    run_id = build.run("inf_metrics")
    for step, value in enumerate([1.0, math.inf, 0.5]):
        build.client.log_metric(run_id, "loss", value, step=step)
    for step, value in enumerate([0.0, 0.25, -math.inf]):
        build.client.log_metric(run_id, "gain", value, step=step)
    build.world.store_edits.append(_real_infinities)


def _html_names(build: _Builder) -> None:
    """8. An experiment, a run and a model named with HTML."""
    build.experiment("html", HTML_EXPERIMENT)
    run_id = build.run("html_names", experiment="html", run_name=HTML_RUN)
    build.client.log_metric(run_id, "accuracy", 0.7)
    build.model(HTML_MODEL, run_id=run_id, description="<b>bold</b> <script>alert(2)</script>")


def _huge_image(build: _Builder) -> None:
    """9. A 39.6-megapixel PNG (one flat colour: about 130 KB) under ``plots/``."""
    run_id = build.run("huge_image")
    build.log_bytes(run_id, "plots/huge.png", flat_png(size=HUGE_IMAGE_SIZE))


def _odd_paths(build: _Builder) -> None:
    """Artifact paths with ``#``, ``?``, ``+``, ``%``, spaces and unicode."""
    run_id = build.run("odd_paths")
    build.world.odd_bodies = {
        ODD_IMAGE_PATH: flat_png(size=(32, 24), color=(200, 80, 20)),
        ODD_TEXT_PATH: ODD_TEXT_BODY,
    }
    for relative, body in build.world.odd_bodies.items():
        build.log_bytes(run_id, relative, body)


def _traversal_model(build: _Builder) -> None:
    """A model named ``a/../../admin`` (created under a placeholder, renamed in the store)."""
    run_id = build.world.run_ids["clean"]
    build.model(TRAVERSAL_PLACEHOLDER, run_id=run_id)
    build.world.store_edits.append(_traversal_name)


# Each poison's builder, in the order they are built.
POISONS = {
    "deep_signature": _deep_signature,
    "alias_bomb": _alias_bomb,
    "note": _note,
    "long_names": _long_names,
    "nul_param": _nul_param,
    "nul_key": _nul_key,
    "inf_metrics": _inf_metrics,
    "html_names": _html_names,
    "huge_image": _huge_image,
    "odd_paths": _odd_paths,
    "traversal_model": _traversal_model,
}


def build_poison_world(
    *,
    base: Path,
    endpoint: str,
    templates: Templates,
    bucket: str = POISON_BUCKET,
    poisons: Iterable[str] = POISONS,
) -> PoisonWorld:
    """The clean items plus ``poisons`` (labels of ``POISONS``) under ``base`` and ``bucket``."""
    from mlflow import MlflowClient

    base.mkdir(parents=True, exist_ok=True)
    s3 = boto3.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=bucket)
    db_path = base / "mlflow.db"
    uri = templates.new_store(db_path)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    world = PoisonWorld(tracking_uri=uri, db_path=db_path, bucket=bucket, endpoint=endpoint)
    world.poisons = tuple(label for label in POISONS if label in set(poisons))
    build = _Builder(client=client, world=world, s3=s3, files=base / "files", templates=templates)
    build.experiment("clean", CLEAN_EXPERIMENT, team="maintenance")
    _clean(build)
    for label in world.poisons:
        POISONS[label](build)
    for run_id in world.run_ids.values():
        client.set_terminated(run_id)
    if world.store_edits:
        _edit_store(db_path, world=world)
    world.model_names = [model.name for model in client.search_registered_models()]
    world.object_count = sum(
        page.get("KeyCount", 0)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    )
    return world


def _edit_store(db_path: Path, *, world: PoisonWorld) -> None:
    """Apply the world's direct edits to the tracking database, in one transaction."""
    connection = sqlite3.connect(db_path)
    try:
        with connection:
            connection.execute("PRAGMA foreign_keys = OFF")
            for edit in world.store_edits:
                edit(connection, world)
    finally:
        connection.close()


def _real_infinities(connection: sqlite3.Connection, world: PoisonWorld) -> None:
    run_id = world.run_ids["inf_metrics"]
    for key, step, value in [("loss", 1, math.inf), ("gain", 2, -math.inf)]:
        updated = connection.execute(
            "UPDATE metrics SET value = ? WHERE run_uuid = ? AND key = ? AND step = ?",
            (value, run_id, key, step),
        ).rowcount
        assert updated == 1, (key, step)
    updated = connection.execute(
        "UPDATE latest_metrics SET value = ? WHERE run_uuid = ? AND key = 'gain'",
        (-math.inf, run_id),
    ).rowcount
    assert updated == 1


def _traversal_name(connection: sqlite3.Connection, world: PoisonWorld) -> None:
    for table in ("registered_models", "model_versions"):
        updated = connection.execute(
            f"UPDATE {table} SET name = ? WHERE name = ?",  # noqa: S608 - fixed table names
            (TRAVERSAL_MODEL, TRAVERSAL_PLACEHOLDER),
        ).rowcount
        assert updated == 1, table
