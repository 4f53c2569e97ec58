"""django-tables2 tables of the catalogue pages: one ``<Model>Table`` per list.

Render methods read only what the selectors fetched (annotations, ``select_related``,
prefetches): none of them queries. Everything from MLflow goes through ``format_html``
or the template engine, so it is escaped. ``value_*`` methods give the plain values the
CSV export writes.
"""

from __future__ import annotations

from urllib.parse import quote

import django_tables2 as tables
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from catalog.model_urls import model_url
from catalog.models import Experiment, ModelVersion, RegisteredModel, Run
from catalog.selectors import EXPERIMENT_NUMERIC_ORDER, key_model_names, order_metric_keys

KEY_METRICS_SHOWN = 4
TAGS_SHOWN = 4
PURPOSE_CHARS = 120


# --- formatting helpers (pure) ------------------------------------------------------------


def folder_of(experiment: Experiment) -> str:
    """The experiment's S3 folder as the seed writes it ("4/"), from its artifact location."""
    return folder_of_location(experiment.artifact_location)


def folder_of_location(location: str | None) -> str:
    """The S3 folder ("4/") of an experiment's artifact location."""
    location = location or ""
    if location.startswith("s3://"):
        _, _, prefix = location[len("s3://") :].partition("/")
        return prefix.rstrip("/") + "/" if prefix else "/"
    return location


def format_metric(value) -> str:
    if value is None:  # NaN or infinity in MLflow: the sync stores null
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:.4g}"


def key_metrics(metrics: dict, limit: int = KEY_METRICS_SHOWN) -> list[tuple[str, str]]:
    """The first ``limit`` metrics, usual quality metrics first, formatted."""
    metrics = metrics or {}
    return [(key, format_metric(metrics[key])) for key in order_metric_keys(metrics)[:limit]]


def plain_purpose(source: str, limit: int = PURPOSE_CHARS) -> str:
    """The first line of a Markdown description as plain text, cut to ``limit``."""
    for line in (source or "").splitlines():
        text = line.strip().lstrip("#>*- ").strip()
        if text:
            return text if len(text) <= limit else text[: limit - 1] + "…"
    return ""


def format_duration(delta) -> str:
    if delta is None:
        return ""
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def badge(text: str, kind: str):
    return format_html('<span class="badge badge-{}">{}</span>', kind, text)


def presence_badge(present: bool | None):
    if present is None:
        return badge("unknown", "unknown")
    return badge("present", "ok") if present else badge("missing", "missing")


def _pairs(mapping: dict, limit: int) -> str:
    items = sorted((mapping or {}).items())
    html = format_html_join(
        " ", '<span class="tag">{}={}</span>', ((key, value) for key, value in items[:limit])
    )
    if len(items) > limit:
        html += format_html(' <span class="muted">+{}</span>', len(items) - limit)
    return html


def _pairs_text(mapping: dict) -> str:
    return "; ".join(f"{key}={value}" for key, value in sorted((mapping or {}).items()))


class CatalogTable(tables.Table):
    """Shared table options: the catalogue's CSS class and template."""

    class Meta:
        attrs = {"class": "table"}
        template_name = "django_tables2/catalog_table.html"


# --- experiments --------------------------------------------------------------------------


class QuickReferenceTable(CatalogTable):
    """The seed's "Quick Reference Table", live."""

    folder = tables.Column(
        verbose_name="S3 folder", accessor="artifact_location", order_by=EXPERIMENT_NUMERIC_ORDER
    )
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
        fields = ("folder", "name", "purpose", "model_count", "key_models")
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
        return plain_purpose(record.purpose, limit=10_000)

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

    def value_key_models(self, record):
        names = key_model_names(record)
        more = record.model_count - len(names)
        return "; ".join(names) + (f" (+{more} more)" if more > 0 else "")


class ExperimentTable(QuickReferenceTable):
    """Every experiment with its totals (the /experiments/ list)."""

    experiment_id = tables.Column(
        verbose_name="ID", linkify=True, order_by=EXPERIMENT_NUMERIC_ORDER
    )
    lifecycle_stage = tables.Column(verbose_name="State")
    run_count = tables.Column(verbose_name="Runs")
    artifact_count = tables.Column(verbose_name="Artifacts")
    artifact_bytes = tables.Column(verbose_name="Bytes")

    class Meta(QuickReferenceTable.Meta):
        empty_text = "No experiments found."
        fields = (
            "experiment_id",
            "folder",
            "name",
            "purpose",
            "lifecycle_stage",
            "run_count",
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

    def render_artifact_bytes(self, value):
        return filesizeformat(value)

    def value_artifact_bytes(self, value):
        return value


# --- runs ---------------------------------------------------------------------------------


class RunTable(CatalogTable):
    run_id = tables.Column(verbose_name="Run ID", linkify=True)
    name = tables.Column(verbose_name="Name")
    status = tables.Column(verbose_name="Status")
    start_time = tables.DateTimeColumn(verbose_name="Start", format="Y-m-d H:i")
    duration = tables.Column(
        verbose_name="Duration", accessor="pk", orderable=False, empty_values=()
    )
    metrics = tables.Column(verbose_name="Key metrics", orderable=False, empty_values=())
    artifact_count = tables.Column(verbose_name="Artifacts")
    artifact_bytes = tables.Column(verbose_name="Bytes")

    class Meta(CatalogTable.Meta):
        model = Run
        empty_text = "No runs in this experiment."
        fields = (
            "run_id",
            "name",
            "status",
            "start_time",
            "duration",
            "metrics",
            "artifact_count",
            "artifact_bytes",
        )
        order_by = ("-start_time",)

    def render_run_id(self, value):
        return format_html('<code class="nowrap" title="{}">{}</code>', value, value[:12])

    def render_status(self, record):
        badges = [badge(record.status or "unknown", (record.status or "unknown").lower())]
        if record.lifecycle_stage != "active":
            badges.append(badge(record.lifecycle_stage, "deleted"))
        if record.missing_since:
            badges.append(badge("gone", "missing"))
        # Joining SafeStrings with a plain str would drop their safety and escape them.
        return format_html_join(" ", "{}", ((b,) for b in badges))

    def value_status(self, record):
        return record.status

    def render_duration(self, record):
        return format_duration(record.duration)

    def value_duration(self, record):
        return record.duration.total_seconds() if record.duration else ""

    def render_metrics(self, record):
        return format_html_join(
            " ", '<span class="metric">{} <b>{}</b></span>', key_metrics(record.metrics)
        )

    def value_metrics(self, record):
        return _pairs_text(record.metrics)

    def render_artifact_bytes(self, value):
        return filesizeformat(value)

    def value_artifact_bytes(self, value):
        return value


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
            "start_time",
            "artifact_count",
            "artifact_bytes",
        )
        sequence = fields
        exclude = ("duration", "metrics")


# --- registered models --------------------------------------------------------------------


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
    last_updated_time = tables.DateTimeColumn(verbose_name="Updated", format="Y-m-d")

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
        return _pairs_text(record.aliases)

    def render_tags(self, record):
        return _pairs(record.tags, TAGS_SHOWN)

    def value_tags(self, record):
        return _pairs_text(record.tags)

    def render_latest_artifacts_present(self, value):
        return presence_badge(value)

    def value_latest_artifacts_present(self, value):
        return {True: "present", False: "missing", None: "unknown"}[value]

    def render_missing_since(self, value):
        return badge(f"gone since {value:%Y-%m-%d}", "missing") if value else badge("present", "ok")

    def value_missing_since(self, value):
        return value.isoformat() if value else "present"


class ModelVersionTable(CatalogTable):
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
    creation_time = tables.DateTimeColumn(verbose_name="Created", format="Y-m-d H:i")

    class Meta(CatalogTable.Meta):
        model = ModelVersion
        empty_text = "No versions of this model."
        fields = (
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
        return ";".join(record.aliases or [])

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

    def render_metrics(self, record):
        return format_html_join(
            " ",
            '<span class="metric">{} <b>{}</b></span>',
            key_metrics(record.run.metrics if record.run else {}),
        )

    def value_metrics(self, record):
        return _pairs_text(record.run.metrics if record.run else {})

    def render_artifacts_present(self, value):
        return presence_badge(value)

    def value_artifacts_present(self, value):
        return {True: "present", False: "missing", None: "unknown"}[value]


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


# --- quality leaderboard ------------------------------------------------------------------


class LeaderboardTable(CatalogTable):
    model = tables.Column(
        verbose_name="Model",
        accessor="registered_model__name",
        linkify=lambda record: record.registered_model.get_absolute_url(),
        orderable=False,
    )
    version = tables.Column(
        verbose_name="Version", linkify=lambda record: record.get_absolute_url(), orderable=False
    )
    metric_value = tables.Column(verbose_name="Value", orderable=False)
    category = tables.Column(
        verbose_name="Category", accessor="registered_model__category", orderable=False
    )
    experiment = tables.Column(
        verbose_name="Experiment",
        accessor="run__experiment__name",
        linkify=lambda record: record.run.experiment.get_absolute_url(),
        orderable=False,
    )
    run = tables.Column(
        verbose_name="Source run",
        accessor="run__name",
        linkify=lambda record: record.run.get_absolute_url(),
        orderable=False,
    )

    class Meta(CatalogTable.Meta):
        model = ModelVersion
        fields = ("model", "version", "metric_value", "category", "experiment", "run")
        empty_text = "No model versions have this metric."

    def render_version(self, value):
        return f"v{value}"

    def value_version(self, value):
        return value

    def render_metric_value(self, value):
        return format_metric(value)

    def value_metric_value(self, value):
        return value

    def render_category(self, record):
        return record.registered_model.get_effective_category_display()

    def value_category(self, record):
        return record.registered_model.effective_category


# --- audit --------------------------------------------------------------------------------


class OrphanFolderTable(CatalogTable):
    """Orphan folders (rows are dicts from ``selectors.orphan_folders``)."""

    orphan_folder = tables.Column(verbose_name="Folder")
    bucket = tables.Column(verbose_name="Bucket")
    object_count = tables.Column(verbose_name="Objects")
    total_bytes = tables.Column(verbose_name="Bytes")

    class Meta(CatalogTable.Meta):
        order_by = ("-total_bytes",)
        empty_text = "No orphan folders: every folder belongs to an experiment."

    def render_orphan_folder(self, record):
        return format_html(
            "<code>s3://{}/{}</code>", record["bucket"], record["orphan_folder"] or ""
        )

    def value_orphan_folder(self, record):
        return f"s3://{record['bucket']}/{record['orphan_folder'] or ''}"

    def render_total_bytes(self, value):
        return filesizeformat(value)

    def value_total_bytes(self, value):
        return value
