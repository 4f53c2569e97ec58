"""fixtures/demo_world.json loads, and matches a fresh build and sync of the demo world."""

from __future__ import annotations

import json

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
MODELS = (Experiment, Run, RegisteredModel, LoggedModel, ModelVersion, Artifact, MetricPoint)


def by_natural_key(records: list[dict]) -> dict[str, dict]:
    """{model: {natural key: fields}} with foreign keys and pks replaced by natural keys."""
    pk_to_key: dict[tuple[str, object], tuple] = {}
    ordered = sorted(records, key=lambda r: list(NATURAL_KEYS).index(r["model"]))
    result: dict[str, dict] = {model: {} for model in NATURAL_KEYS}
    for record in ordered:
        fields = {k: v for k, v in record["fields"].items() if k not in VOLATILE_FIELDS}
        for name, target in FOREIGN_KEYS.items():
            if fields.get(name) is not None:
                fields[name] = pk_to_key[(target, fields[name])]
        key = tuple(fields[part] for part in NATURAL_KEYS[record["model"]])
        pk_to_key[(record["model"], record["pk"])] = key
        result[record["model"]][key] = fields
    return result


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
    expected = by_natural_key(fixture_records())
    actual = by_natural_key(fresh)
    for model in NATURAL_KEYS:
        assert set(actual[model]) == set(expected[model]), model
        for key, fields in expected[model].items():
            assert actual[model][key] == fields, (model, key)
