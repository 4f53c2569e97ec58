"""What the change log watches of each mirrored entity, and how its events name it.

An ``EntitySpec`` says which synced fields are "watched" (a difference in one of them
is an ``updated`` event; other fields, such as times or the metrics signature, change
the row without an event), which fields are diffed key by key (tags, metrics,
aliases), and how a row becomes an event's ``Identity``: natural key, display name,
experiment and registered model (the timeline's filters and the history panels find
events through these).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from catalog.models import ChangeEvent, Experiment, LoggedModel, ModelVersion, RegisteredModel, Run

Entity = ChangeEvent.Entity


@dataclass(frozen=True, slots=True)
class Identity:
    """How an event names its entity; ``key`` is the natural key as text."""

    key: str
    name: str
    experiment_pk: int | None
    registered_model_pk: int | None


@dataclass(frozen=True, slots=True)
class EntitySpec:
    """One mirrored entity as the change log sees it.

    ``key_fields``: the row fields (``values()`` lookups) that make its natural key, as
    the sync's ``KeyedTable`` keys it; ``context_fields``: what ``identify`` needs
    besides. ``keyed_fields``: watched dict fields diffed key by key, with the prefix
    each key gets in ``changes`` (``"metrics."``); ``alias_field``: the field whose
    differences are one ``alias_moved`` event instead.
    """

    entity_type: str
    label: str
    model: type
    watched: tuple[str, ...]
    key_fields: tuple[str, ...]
    context_fields: tuple[str, ...]
    identify: Callable[[int, Any, Mapping[str, Any]], Identity]
    keyed_fields: Mapping[str, str]
    alias_field: str = ""

    def natural_key(self, row: Mapping[str, Any]) -> Any:
        """The natural key of a ``values(*key_fields)`` row, as ``KeyedTable`` keys it."""
        if len(self.key_fields) == 1:
            return row[self.key_fields[0]]
        return tuple(row[name] for name in self.key_fields)


def _experiment(pk: int, key: Any, fields: Mapping[str, Any]) -> Identity:
    return Identity(str(key), fields.get("name") or str(key), pk, None)


def _run(pk: int, key: Any, fields: Mapping[str, Any]) -> Identity:
    return Identity(str(key), fields.get("name") or str(key), fields.get("experiment_id"), None)


def _logged_model(pk: int, key: Any, fields: Mapping[str, Any]) -> Identity:
    return Identity(str(key), fields.get("name") or str(key), fields.get("experiment_id"), None)


def _registered_model(pk: int, key: Any, fields: Mapping[str, Any]) -> Identity:
    return Identity(str(key), str(key), fields.get("experiment_id"), pk)


def _model_version(pk: int, key: Any, fields: Mapping[str, Any]) -> Identity:
    name, version = key
    return Identity(f"{name}/v{version}", f"{name} v{version}", None, fields["registered_model_id"])


SPECS: dict[str, EntitySpec] = {
    "experiments": EntitySpec(
        entity_type=Entity.EXPERIMENT,
        label="experiment",
        model=Experiment,
        watched=("name", "lifecycle_stage", "mlflow_description", "tags", "artifact_location"),
        key_fields=("experiment_id",),
        context_fields=("name",),
        identify=_experiment,
        keyed_fields={"tags": "tags."},
    ),
    "runs": EntitySpec(
        entity_type=Entity.RUN,
        label="run",
        model=Run,
        watched=("name", "status", "lifecycle_stage", "tags", "metrics"),
        key_fields=("run_id",),
        context_fields=("name", "experiment_id"),
        identify=_run,
        keyed_fields={"tags": "tags.", "metrics": "metrics."},
    ),
    "logged_models": EntitySpec(
        entity_type=Entity.LOGGED_MODEL,
        label="logged model",
        model=LoggedModel,
        watched=("name", "status", "tags", "metrics"),
        key_fields=("model_id",),
        context_fields=("name", "experiment_id"),
        identify=_logged_model,
        keyed_fields={"tags": "tags.", "metrics": "metrics."},
    ),
    "registered_models": EntitySpec(
        entity_type=Entity.REGISTERED_MODEL,
        label="registered model",
        model=RegisteredModel,
        watched=("mlflow_description", "tags", "aliases"),
        key_fields=("name",),
        context_fields=("experiment_id",),
        identify=_registered_model,
        keyed_fields={"tags": "tags.", "aliases": "@"},
        alias_field="aliases",
    ),
    # A version's aliases are left out: an alias move is the model's one event.
    "model_versions": EntitySpec(
        entity_type=Entity.MODEL_VERSION,
        label="model version",
        model=ModelVersion,
        watched=("status", "stage", "mlflow_description", "tags", "source"),
        key_fields=("registered_model__name", "version"),
        context_fields=("registered_model_id",),
        identify=_model_version,
        keyed_fields={"tags": "tags."},
    ),
}
