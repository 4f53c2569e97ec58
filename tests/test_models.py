"""The data model's rules: natural keys, long keys, curated fields kept apart."""

import pytest
from django.db import IntegrityError, transaction

from catalog import models
from tests.factories import (
    make_artifact,
    make_experiment,
    make_logged_model,
    make_model_version,
    make_registered_model,
    make_run,
)

MIRRORED = [
    models.Experiment,
    models.Run,
    models.RegisteredModel,
    models.ModelVersion,
    models.LoggedModel,
    models.Artifact,
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("builder", "natural_key"),
    [
        (make_experiment, ("experiment_id",)),
        (make_run, ("run_id",)),
        (make_registered_model, ("name",)),
        (make_model_version, ("registered_model", "version")),
        (make_logged_model, ("model_id",)),
        (lambda: make_artifact(key="stray/file.txt"), ("bucket", "key")),
    ],
)
def test_natural_keys_are_unique(builder, natural_key):
    row = builder()
    duplicate = {field: getattr(row, field) for field in natural_key}
    model = type(row)
    # Fill the other required fields from the original row.
    for field in model._meta.concrete_fields:
        if field.primary_key or field.name in duplicate:
            continue
        duplicate.setdefault(field.name, getattr(row, field.name))
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.create(**duplicate)


@pytest.mark.django_db
def test_a_1024_byte_utf8_key_is_stored_and_read_back_verbatim():
    run = make_run()
    prefix = f"{run.experiment.experiment_id}/{run.run_id}/artifacts/"
    # Multi-byte characters, spaces, '#', '?', '%', '+' and a '..' segment: just characters.
    body = "plots/../ü #?%+ 図-"
    filler_bytes = 1024 - len((prefix + body).encode()) - 4
    key = prefix + body + "x" * filler_bytes + ".png"
    assert len(key.encode("utf-8")) == 1024
    path = key.removeprefix(prefix)
    make_artifact(run=run, path=path)

    stored = models.Artifact.objects.get(key=key)
    assert stored.key == key
    assert stored.path == path
    assert len(stored.key.encode("utf-8")) == 1024


@pytest.mark.django_db
def test_a_1024_character_key_of_three_byte_characters_fits_the_column():
    # The column is counted in characters on PostgreSQL: 1,024 bytes never exceed it.
    key = "図" * 341 + "a"  # 1,024 bytes
    make_artifact(key=key)
    assert models.Artifact.objects.get(key=key).key == key


@pytest.mark.parametrize("model", MIRRORED)
def test_curated_fields_are_not_among_the_synced_ones(model):
    synced = set(model.SYNCED_FIELDS)
    curated = set(model.CURATED_FIELDS)
    assert not synced & curated
    assert not curated & set(model.BOOKKEEPING_FIELDS)
    concrete = {field.name for field in model._meta.concrete_fields if not field.primary_key}
    # Every column is exactly one of: synced, curated, bookkeeping.
    assert concrete == synced | curated | set(model.BOOKKEEPING_FIELDS)


@pytest.mark.parametrize("model", MIRRORED)
def test_synced_fields_are_not_editable_and_curated_ones_are(model):
    for name in (*model.SYNCED_FIELDS, *model.BOOKKEEPING_FIELDS):
        assert not model._meta.get_field(name).editable, name
    for name in model.CURATED_FIELDS:
        assert model._meta.get_field(name).editable, name


@pytest.mark.django_db
def test_category_override_wins_over_the_inferred_category():
    model = make_registered_model(category=models.Category.CLASSIFICATION)
    assert model.effective_category == "classification"
    model.category_override = models.Category.FORECASTING
    assert model.effective_category == "forecasting"
    assert model.get_effective_category_display() == "Forecasting"


@pytest.mark.django_db
def test_purpose_prefers_the_curated_description():
    experiment = make_experiment(mlflow_description="from MLflow")
    assert experiment.purpose == "from MLflow"
    experiment.description = "curated"
    assert experiment.purpose == "curated"
