"""fixtures/demo_world.json loads, and matches a fresh build and sync of the demo world."""

from __future__ import annotations

import json
import platform

from django.core import serializers
from django.core.management import call_command

from catalog.models import (
    Artifact,
    Experiment,
    LoggedModel,
    MetricPoint,
    ModelVersion,
    RegisteredModel,
    Run,
)
from demo.fixture import FIXTURE_PATH
from demo.seed import REGISTERED_MODEL_NAMES

# Times of the sync itself and of the S3 upload differ by nature between builds; every
# time that comes from MLflow is frozen by the build and is compared.
VOLATILE_FIELDS = {"first_seen", "last_seen", "fingerprint", "last_modified"}
NATURAL_KEYS = {
    "catalog.experiment": ("experiment_id",),
    "catalog.run": ("run_id",),
    "catalog.registeredmodel": ("name",),
    "catalog.loggedmodel": ("model_id",),
    "catalog.modelversion": ("registered_model", "version"),
    "catalog.artifact": ("bucket", "key"),
    "catalog.metricpoint": ("run", "key", "step", "timestamp"),
}
FOREIGN_KEYS = {
    "experiment": "catalog.experiment",
    "run": "catalog.run",
    "registered_model": "catalog.registeredmodel",
    "logged_model": "catalog.loggedmodel",
}
# Files whose bytes name the Python that wrote them (python_env.yaml says "python:
# 3.11.7"). Compared strictly when this Python is the fixture's; otherwise their bytes,
# and the byte totals that add them up, are left out of the comparison.
PYTHON_DEPENDENT_FILES = ("MLmodel", "conda.yaml", "python_env.yaml", "requirements.txt")
PYTHON_DEPENDENT_FIELDS = {"etag", "size", "meta", "meta_etag", "artifact_bytes"}
# Pickled models hold floats computed by BLAS kernels chosen for the CPU's instruction
# set, so their last bits (and the bytes' ETag) differ between an AMD and an Intel
# machine. Their size is still compared; their ETag is not.
CPU_DEPENDENT_FILES = ("model.pkl",)
CPU_DEPENDENT_FIELDS = {"etag"}
MODELS = (Experiment, Run, RegisteredModel, LoggedModel, ModelVersion, Artifact, MetricPoint)


def by_natural_key(records: list[dict], *, same_python: bool = True) -> dict[str, dict]:
    """{model: {natural key: fields}} with foreign keys and pks replaced by natural keys."""
    pk_to_key: dict[tuple[str, object], tuple] = {}
    ordered = sorted(records, key=lambda r: list(NATURAL_KEYS).index(r["model"]))
    result: dict[str, dict] = {model: {} for model in NATURAL_KEYS}
    for record in ordered:
        fields = {k: v for k, v in record["fields"].items() if k not in VOLATILE_FIELDS}
        if not same_python and _python_dependent(record):
            fields = {k: v for k, v in fields.items() if k not in PYTHON_DEPENDENT_FIELDS}
        if _file_name(record) in CPU_DEPENDENT_FILES:
            fields = {k: v for k, v in fields.items() if k not in CPU_DEPENDENT_FIELDS}
        fields = {k: _rounded(v) for k, v in fields.items()}
        for name, target in FOREIGN_KEYS.items():
            if fields.get(name) is not None:
                fields[name] = pk_to_key[(target, fields[name])]
        key = tuple(fields[part] for part in NATURAL_KEYS[record["model"]])
        pk_to_key[(record["model"], record["pk"])] = key
        result[record["model"]][key] = fields
    return result


def _rounded(value):
    """``value`` with every float cut to 12 significant digits: training on another CPU
    moves metrics in their last bits (see CPU_DEPENDENT_FILES), not in their 12th digit."""
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _file_name(record: dict) -> str | None:
    if record["model"] != "catalog.artifact":
        return None
    return record["fields"]["key"].rsplit("/", 1)[-1]


def _python_dependent(record: dict) -> bool:
    if record["model"] == "catalog.artifact":
        return _file_name(record) in PYTHON_DEPENDENT_FILES
    return "artifact_bytes" in record["fields"]


def fixture_python(records: list[dict]) -> str:
    """The Python version the fixture's models were saved with (from a parsed MLmodel)."""
    for record in records:
        meta = record["fields"].get("meta") or {}
        if meta.get("kind") == "mlmodel" and meta.get("python_version"):
            return meta["python_version"]
    raise AssertionError("the fixture has no parsed MLmodel")


def fixture_records() -> list[dict]:
    return json.loads(FIXTURE_PATH.read_text())


def test_the_fixture_loads_into_an_empty_catalogue(db):
    call_command("loaddata", str(FIXTURE_PATH), verbosity=0)
    assert Experiment.objects.filter(lifecycle_stage="active").count() == 7
    assert set(RegisteredModel.objects.values_list("name", flat=True)) == set(
        REGISTERED_MODEL_NAMES
    )
    assert ModelVersion.objects.filter(artifacts_present=False).count() == 1
    assert Artifact.objects.filter(run=None, logged_model=None).count() == 4
    assert LoggedModel.objects.count() == 1
    run = Run.objects.get(run_id="64535d709de2458396986ff9f939517a")
    assert run.artifacts.filter(path="model/MLmodel").get().meta["kind"] == "mlmodel"


def test_the_fixture_matches_a_fresh_sync_of_the_world(sync_demo_world):
    sync_demo_world()
    fresh = []
    for model in MODELS:
        fresh += json.loads(serializers.serialize("json", model.objects.all()))
    records = fixture_records()
    # Regenerate with `python -m demo.fixture` after changing the world (docs/demo.md).
    same_python = fixture_python(records) == platform.python_version()
    expected = by_natural_key(records, same_python=same_python)
    actual = by_natural_key(fresh, same_python=same_python)
    for model in NATURAL_KEYS:
        assert set(actual[model]) == set(expected[model]), model
        for key, fields in expected[model].items():
            assert actual[model][key] == fields, (model, key)
