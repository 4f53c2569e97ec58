"""Tables of registered models and their versions."""

from __future__ import annotations

import django_tables2 as tables
from django.utils.html import format_html

from catalog.formatting import folder_of_location
from catalog.models import ModelVersion, RegisteredModel
from catalog.tables.base import CatalogTable, IsoDateTimeColumn
from catalog.tables.columns import (
    AliasesColumn,
    AliasVersionsColumn,
    CategoryColumn,
    CodeColumn,
    MetricsColumn,
    MissingSinceColumn,
    PairsColumn,
    PresenceColumn,
    StatusColumn,
    VersionColumn,
)


class RegisteredModelTable(CatalogTable):
    name = tables.Column(verbose_name="Name", linkify=True)
    category = CategoryColumn(
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
    aliases = AliasVersionsColumn(verbose_name="Aliases", orderable=False)
    tags = PairsColumn(verbose_name="Tags")
    latest_artifacts_present = PresenceColumn(verbose_name="Artifacts")
    missing_since = MissingSinceColumn(verbose_name="In MLflow")
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


class ModelVersionTable(CatalogTable):
    """A model's versions. The model's name is on the page; the export writes it in a
    column of its own, so that a file read alone says whose versions it holds."""

    model = tables.Column(verbose_name="Model", accessor="registered_model__name", visible=False)
    version = VersionColumn(
        verbose_name="Version", linkify=lambda record: record.get_absolute_url()
    )
    stage = tables.Column(verbose_name="Stage")
    aliases = AliasesColumn(verbose_name="Aliases", orderable=False)
    status = StatusColumn(verbose_name="Status")
    run = tables.Column(
        verbose_name="Source run",
        accessor="source_run_id",
        linkify=lambda record: record.run.get_absolute_url() if record.run else None,
    )
    metrics = MetricsColumn(verbose_name="Run metrics", accessor="run__metrics")
    artifacts_present = PresenceColumn(verbose_name="Artifacts")
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

    def render_run(self, record):
        label = record.run.name if record.run and record.run.name else record.source_run_id
        return format_html("<code>{}</code>", (label or "")[:40])

    def value_run(self, record):
        """The full run id (the page shows the run's name)."""
        return record.source_run_id or (record.run.run_id if record.run else "")


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
    source = CodeColumn(verbose_name="Source")
    artifact_prefix = tables.Column(verbose_name="Expected at", accessor="pk", empty_values=())

    class Meta(RunModelVersionTable.Meta):
        empty_text = "No model versions with missing artifacts."
        fields = ("model", "version", "status", "source", "artifact_prefix", "artifacts_present")
        sequence = fields
        exclude = ("run", "metrics", "creation_time", "stage", "aliases")

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
    aliases = AliasVersionsColumn(verbose_name="Aliases")
    folder = CodeColumn(
        verbose_name="S3 folder", accessor="experiment__artifact_location", text=folder_of_location
    )
    experiment = tables.Column(verbose_name="Experiment", accessor="experiment__name")

    class Meta(CatalogTable.Meta):
        model = RegisteredModel
        fields = ("category", "name", "latest_version", "aliases", "folder", "experiment")
        sequence = fields
        orderable = False
        empty_text = "No registered models yet."
