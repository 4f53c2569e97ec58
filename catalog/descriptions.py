"""The descriptions a detail page shows: the one curated in the admin and MLflow's own.

A team lead's description (``description``, edited in the admin) is shown first, but it
does not hide what MLflow says: when both exist and differ the page shows MLflow's
below it, labelled, so a reader sees when the two disagree. Where MLflow keeps a
description depends on the entity:

- experiments and runs (and MLflow 3 logged models): the ``mlflow.note.content`` tag,
  which MLflow's UI shows as the description. The sync copies the experiment's tag into
  ``Experiment.mlflow_description``; runs and logged models keep it in ``tags`` only;
- registered models and model versions: the registry's ``description`` field, mirrored
  as ``mlflow_description``.

Pure: reads fields of rows already loaded, never queries.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from catalog.models import Experiment, LoggedModel, ModelVersion, RegisteredModel, Run

# The tag MLflow's UI reads and writes as an experiment's, run's or logged model's
# description.
MLFLOW_NOTE_TAG = "mlflow.note.content"


@dataclass(frozen=True, slots=True)
class Descriptions:
    """The Markdown sources of one entity's description section, with the admin link."""

    curated: str
    mlflow: str
    notes: str
    admin_url: str

    @property
    def same(self) -> bool:
        """Whether the curated and MLflow descriptions say the same (blank lines aside)."""
        return bool(self.curated) and _normalised(self.curated) == _normalised(self.mlflow)

    @property
    def mlflow_shown_apart(self) -> bool:
        """Whether MLflow's description gets a block of its own under the curated one."""
        return bool(self.mlflow) and not self.same

    @property
    def is_empty(self) -> bool:
        return not (self.curated or self.mlflow or self.notes)


def _normalised(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").strip().splitlines())


def note_tag(tags) -> str:
    """The ``mlflow.note.content`` tag of a tags mapping, or "" (also for a non-text value)."""
    value = tags.get(MLFLOW_NOTE_TAG, "") if isinstance(tags, dict) else ""
    return value if isinstance(value, str) else ""


def mlflow_description_of(entity) -> str:
    """What MLflow says about ``entity`` (Markdown source), wherever MLflow keeps it."""
    if isinstance(entity, Experiment):
        return entity.mlflow_description or note_tag(entity.tags)
    if isinstance(entity, Run | LoggedModel):
        return note_tag(entity.tags)
    if isinstance(entity, RegisteredModel | ModelVersion):
        return entity.mlflow_description
    raise TypeError(f"no description for {type(entity).__name__}")


def descriptions_of(entity) -> Descriptions:
    """The curated and MLflow descriptions and the curated notes of a detail page's entity.

    Model versions have no curated description (only notes): MLflow's is their only one.
    """
    return Descriptions(
        curated=_blank_is_empty(getattr(entity, "description", "")),
        mlflow=_blank_is_empty(mlflow_description_of(entity)),
        notes=_blank_is_empty(entity.notes),
        admin_url=reverse(
            f"admin:{entity._meta.app_label}_{entity._meta.model_name}_change", args=[entity.pk]
        ),
    )


def _blank_is_empty(text: str | None) -> str:
    # Whitespace alone would render as an empty block under a label.
    return text if text and text.strip() else ""
