"""Tables of runs: an experiment's runs and the audit's runs."""

from __future__ import annotations

import django_tables2 as tables
from django.utils.html import format_html

from catalog.formatting import format_duration
from catalog.models import Run
from catalog.tables.base import CatalogTable, IsoDateTimeColumn
from catalog.tables.columns import BytesColumn, MetricsColumn, MissingSinceColumn, StatusColumn


class RunTable(CatalogTable):
    """An experiment's runs. The status cell's lifecycle and "gone" badges are columns
    of their own in the export, which the page does not show."""

    run_id = tables.Column(verbose_name="Run ID", linkify=True)
    name = tables.Column(verbose_name="Name")
    status = StatusColumn(verbose_name="Status", lifecycle=True)
    lifecycle_stage = tables.Column(verbose_name="Lifecycle", visible=False)
    missing_since = MissingSinceColumn(verbose_name="In MLflow", visible=False)
    start_time = IsoDateTimeColumn(verbose_name="Start", format="Y-m-d H:i")
    duration = tables.Column(
        verbose_name="Duration",
        accessor="pk",
        orderable=False,
        empty_values=(),
        exclude_from_export=True,
    )
    # The export's duration: seconds, a number a spreadsheet can sum ("7m 03s" is not).
    duration_s = tables.Column(
        verbose_name="Duration (s)", accessor="pk", visible=False, empty_values=()
    )
    metrics = MetricsColumn(verbose_name="Key metrics")
    artifact_count = tables.Column(verbose_name="Artifacts")
    artifact_bytes = BytesColumn(verbose_name="Bytes")

    class Meta(CatalogTable.Meta):
        model = Run
        empty_text = "No runs in this experiment."
        fields = (
            "run_id",
            "name",
            "status",
            "lifecycle_stage",
            "missing_since",
            "start_time",
            "duration",
            "duration_s",
            "metrics",
            "artifact_count",
            "artifact_bytes",
        )
        order_by = ("-start_time",)

    def render_run_id(self, value):
        return format_html('<code class="nowrap" title="{}">{}</code>', value, value[:12])

    def value_run_id(self, value):
        return value

    def render_duration(self, record):
        return format_duration(record.duration)

    def value_duration_s(self, record):
        return record.duration.total_seconds() if record.duration else ""


class AuditRunTable(RunTable):
    """Runs in the drift report, with their experiment."""

    experiment = tables.Column(
        verbose_name="Experiment",
        accessor="experiment__name",
        linkify=lambda record: record.experiment.get_absolute_url(),
    )
    lifecycle_stage = tables.Column(verbose_name="State")

    class Meta(RunTable.Meta):
        empty_text = "No runs in this list: nothing to fix."
        fields = (
            "run_id",
            "name",
            "experiment",
            "status",
            "lifecycle_stage",
            "missing_since",
            "start_time",
            "artifact_count",
            "artifact_bytes",
        )
        sequence = fields
        exclude = ("duration", "duration_s", "metrics")
