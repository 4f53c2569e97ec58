"""Tables of registered models and their versions."""

from __future__ import annotations

import django_tables2 as tables
from django.utils.html import format_html, format_html_join

from catalog.formatting import (
    TAGS_SHOWN,
    folder_of_location,
    key_metrics,
)
from catalog.models import ModelVersion, RegisteredModel
from catalog.tables.base import (
    CatalogTable,
    IsoDateTimeColumn,
    _pairs,
    badge,
    pairs_text,
    presence_badge,
    presence_text,
)


class RegisteredModelTable(CatalogTable):
    name = tables.Column(verbose_name="Name", linkify=True)
    category = tables.Column(
        verbose_name="Category",
        accessor="effective_category_value",
        order_by=("effective_category_value", "name"),
    )
    experiment = tables.Column(
        verbose_name="Experiment",
        accessor="experiment__name",
        linkify=lambda record: record.experiment.get_absolute_url() if record.experiment else None,
        order_by=("experiment__experiment_id", "name"),
    )
    latest_version = tables.Column(verbose_name="Latest")
    version_count = tables.Column(verbose_name="Versions")
    aliases = tables.Column(verbose_name="Aliases", orderable=False, empty_values=())
    tags = tables.Column(verbose_name="Tags", orderable=False, empty_values=())
    latest_artifacts_present = tables.Column(verbose_name="Artifacts", empty_values=())
    missing_since = tables.Column(verbose_name="In MLflow", empty_values=())
    last_updated_time = IsoDateTimeColumn(verbose_name="Updated", format="Y-m-d")

    class Meta(CatalogTable.Meta):
        model = RegisteredModel
        empty_text = "No registered models found."
        fields = (
            "name",
            "category",
            "experiment",
            "latest_version",
            "version_count",
            "aliases",
            "tags",
            "latest_artifacts_present",
            "missing_since",
            "last_updated_time",
        )
        order_by = ("name",)

    def render_category(self, record):
        return record.get_effective_category_display()

    def value_category(self, record):
        return record.effective_category

    def render_aliases(self, record):
        return format_html_join(
            " ",
            '<span class="alias">@{}&nbsp;→&nbsp;v{}</span>',
            sorted((record.aliases or {}).items()),
        )

    def value_aliases(self, record):
        return pairs_text(record.aliases)

    def render_tags(self, record):
        return _pairs(record.tags, TAGS_SHOWN)

    def value_tags(self, record):
        return pairs_text(record.tags)

    def render_latest_artifacts_present(self, value):
        return presence_badge(value)

    def value_latest_artifacts_present(self, value):
        return presence_text(value)

    def render_missing_since(self, value):
        return badge(f"gone since {value:%Y-%m-%d}", "missing") if value else badge("present", "ok")

    def value_missing_since(self, value):
        return value.isoformat() if value else "present"


class ModelVersionTable(CatalogTable):
    """A model's versions. The model's name is on the page; the export writes it in a
    column of its own, so that a file read alone says whose versions it holds."""

    model = tables.Column(verbose_name="Model", accessor="registered_model__name", visible=False)
    version = tables.Column(
        verbose_name="Version", linkify=lambda record: record.get_absolute_url()
    )
    stage = tables.Column(verbose_name="Stage")
    aliases = tables.Column(verbose_name="Aliases", orderable=False, empty_values=())
    status = tables.Column(verbose_name="Status")
    run = tables.Column(
        verbose_name="Source run",
        accessor="source_run_id",
        linkify=lambda record: record.run.get_absolute_url() if record.run else None,
    )
    metrics = tables.Column(
        verbose_name="Run metrics", accessor="pk", orderable=False, empty_values=()
    )
    artifacts_present = tables.Column(verbose_name="Artifacts", empty_values=())
    creation_time = IsoDateTimeColumn(verbose_name="Created", format="Y-m-d H:i")

    class Meta(CatalogTable.Meta):
        model = ModelVersion
        empty_text = "No versions of this model."
        fields = (
            "model",
            "version",
            "stage",
            "aliases",
            "status",
            "run",
            "metrics",
            "artifacts_present",
            "creation_time",
        )
        order_by = ("-version",)

    def render_version(self, value):
        return f"v{value}"

    def value_version(self, value):
        return value

    def render_aliases(self, record):
        return format_html_join(
            " ", '<span class="alias">@{}</span>', ((a,) for a in record.aliases or [])
        )

    def value_aliases(self, record):
        return "; ".join(record.aliases or [])

    def render_status(self, record):
        html = badge(record.status or "unknown", (record.status or "unknown").lower())
        if record.missing_since:
            html += " " + badge("gone", "missing")
        return html

    def value_status(self, record):
        return record.status

    def render_run(self, record):
        label = record.run.name if record.run and record.run.name else record.source_run_id
        return format_html("<code>{}</code>", (label or "")[:40])

    def value_run(self, record):
        """The full run id (the page shows the run's name)."""
        return record.source_run_id or (record.run.run_id if record.run else "")

    def render_metrics(self, record):
        return format_html_join(
            " ",
            '<span class="metric">{} <b>{}</b></span>',
            key_metrics(record.run.metrics if record.run else {}),
        )

    def value_metrics(self, record):
        return pairs_text(record.run.metrics if record.run else {})

    def render_artifacts_present(self, value):
        return presence_badge(value)

    def value_artifacts_present(self, value):
        return presence_text(value)


class RunModelVersionTable(ModelVersionTable):
    """Versions made by a run (on the run page): the model name first."""

    model = tables.Column(
        verbose_name="Model",
        accessor="registered_model__name",
        linkify=lambda record: record.registered_model.get_absolute_url(),
    )

    class Meta(ModelVersionTable.Meta):
        empty_text = "No model versions come from this run."
        fields = ("model", "version", "stage", "aliases", "status", "artifacts_present")
        sequence = fields
        exclude = ("run", "metrics", "creation_time")


class AuditVersionTable(RunModelVersionTable):
    source = tables.Column(verbose_name="Source")
    artifact_prefix = tables.Column(verbose_name="Expected at", accessor="pk", empty_values=())

    class Meta(RunModelVersionTable.Meta):
        empty_text = "No model versions with missing artifacts."
        fields = ("model", "version", "status", "source", "artifact_prefix", "artifacts_present")
        sequence = fields
        exclude = ("run", "metrics", "creation_time", "stage", "aliases")

    def render_source(self, value):
        return format_html("<code>{}</code>", value)

    def value_source(self, value):
        return value

    def render_artifact_prefix(self, record):
        if not record.artifact_bucket:
            return "unresolved"
        return format_html(
            "<code>s3://{}/{}</code>", record.artifact_bucket, record.artifact_prefix
        )

    def value_artifact_prefix(self, record):
        if not record.artifact_bucket:
            return ""
        return f"s3://{record.artifact_bucket}/{record.artifact_prefix}"


class CategoryModelTable(CatalogTable):
    """The categories page as rows, for its CSV export: one row per present model."""

    category = tables.Column(verbose_name="Category", accessor="effective_category_value")
    name = tables.Column(verbose_name="Model", linkify=True)
    latest_version = tables.Column(verbose_name="Latest version")
    aliases = tables.Column(verbose_name="Aliases", empty_values=())
    folder = tables.Column(verbose_name="S3 folder", accessor="experiment__artifact_location")
    experiment = tables.Column(verbose_name="Experiment", accessor="experiment__name")

    class Meta(CatalogTable.Meta):
        model = RegisteredModel
        fields = ("category", "name", "latest_version", "aliases", "folder", "experiment")
        sequence = fields
        orderable = False
        empty_text = "No registered models yet."

    def render_aliases(self, record):
        return format_html_join(
            " ",
            '<span class="alias">@{}&nbsp;→&nbsp;v{}</span>',
            sorted((record.aliases or {}).items()),
        )

    def value_aliases(self, record):
        return pairs_text(record.aliases)

    def render_folder(self, value):
        return format_html("<code>{}</code>", folder_of_location(value))

    def value_folder(self, value):
        return folder_of_location(value)
