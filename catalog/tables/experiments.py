"""Tables of experiments (S3 folders): the home page's quick reference and the list."""

from __future__ import annotations

from urllib.parse import quote

import django_tables2 as tables
from django.db.models import QuerySet, prefetch_related_objects
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from catalog.formatting import (
    folder_of,
    plain_purpose,
)
from catalog.model_urls import model_url
from catalog.models import Experiment
from catalog.selectors import (
    EXPERIMENT_NUMERIC_ORDER,
    PRESENT_MODELS_ATTR,
    key_model_names,
    present_models_prefetch,
)
from catalog.tables.base import CatalogTable, badge
from catalog.tables.columns import BytesColumn


class QuickReferenceTable(CatalogTable):
    """The seed's "Quick Reference Table", live."""

    folder = tables.Column(
        verbose_name="S3 folder", accessor="artifact_location", order_by=EXPERIMENT_NUMERIC_ORDER
    )
    # The page shows it as the folder's tooltip; the export writes it out.
    artifact_location = tables.Column(verbose_name="Artifact location", visible=False)
    name = tables.Column(verbose_name="Experiment", linkify=True)
    purpose = tables.Column(
        verbose_name="Purpose", accessor="mlflow_description", orderable=False, empty_values=()
    )
    model_count = tables.Column(verbose_name="Models")
    key_models = tables.Column(
        verbose_name="Key models", accessor="pk", orderable=False, empty_values=()
    )

    class Meta(CatalogTable.Meta):
        model = Experiment
        empty_text = "No experiments in the catalogue yet."
        fields = ("folder", "artifact_location", "name", "purpose", "model_count", "key_models")
        order_by = ("folder",)

    def render_folder(self, record):
        return format_html(
            '<code title="{}">{}</code>', record.artifact_location, folder_of(record)
        )

    def value_folder(self, record):
        return folder_of(record)

    def render_purpose(self, record):
        return plain_purpose(record.purpose)

    def value_purpose(self, record):
        # The whole first line: the page's cut ("…") is for the page only.
        return plain_purpose(record.purpose, limit=len(record.purpose or "") + 1)

    def render_key_models(self, record):
        names = key_model_names(record)
        html = format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            ((model_url(name), name) for name in names),
        )
        more = record.model_count - len(names)
        if more > 0:
            html += format_html(
                ' <a class="muted" href="{}?experiment={}">+{} more</a>',
                reverse("catalog:model_list"),
                quote(str(record.experiment_id), safe=""),
                more,
            )
        return html or "—"

    def prepare_export(self) -> None:
        """Every row's present models in one query: the export lists them all."""
        rows = self.data.data
        if isinstance(rows, QuerySet):
            self.data.data = rows.prefetch_related(present_models_prefetch())
        else:
            prefetch_related_objects(list(rows), present_models_prefetch())

    def value_key_models(self, record):
        """Every present model of the folder: the page's key models first, then by name."""
        names = key_model_names(record)
        everything = getattr(record, PRESENT_MODELS_ATTR, None)
        if everything is None:  # not prepared for an export: say what is left out
            more = record.model_count - len(names)
            return "; ".join(names) + (f" (+{more} more)" if more > 0 else "")
        shown = set(names)
        return "; ".join(names + [model.name for model in everything if model.name not in shown])


class ExperimentTable(QuickReferenceTable):
    """Every experiment with its totals (the /experiments/ list)."""

    experiment_id = tables.Column(
        verbose_name="ID", linkify=True, order_by=EXPERIMENT_NUMERIC_ORDER
    )
    lifecycle_stage = tables.Column(verbose_name="State")
    run_count = tables.Column(verbose_name="Runs", accessor="active_run_count")
    deleted_run_count = tables.Column(verbose_name="Deleted runs", visible=False)
    artifact_count = tables.Column(verbose_name="Artifacts")
    artifact_bytes = BytesColumn(verbose_name="Bytes")

    class Meta(QuickReferenceTable.Meta):
        empty_text = "No experiments found."
        fields = (
            "experiment_id",
            "folder",
            "artifact_location",
            "name",
            "purpose",
            "lifecycle_stage",
            "run_count",
            "deleted_run_count",
            "model_count",
            "artifact_count",
            "artifact_bytes",
            "key_models",
        )
        sequence = fields
        order_by = ("experiment_id",)

    def render_lifecycle_stage(self, record):
        if record.missing_since:
            return badge("gone", "missing")
        if record.lifecycle_stage != "active":
            return badge(record.lifecycle_stage, "deleted")
        return badge("active", "ok")

    def value_lifecycle_stage(self, record):
        return "gone" if record.missing_since else record.lifecycle_stage

    def render_run_count(self, record, value):
        # Active runs, with the deleted ones (run_count counts them too) said apart.
        if record.deleted_run_count:
            return format_html(
                '{} <span class="muted nowrap">({} deleted)</span>', value, record.deleted_run_count
            )
        return value

    def value_run_count(self, value):
        return value
