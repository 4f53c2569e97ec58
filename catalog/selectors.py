"""The read side of the catalogue: querysets and small read models for the pages.

Every function here returns a queryset shaped for its page (``select_related``,
``prefetch_related``, annotations) or a bounded list, so tables and templates never
query per row. Totals come from the denormalised counters the sync keeps
(``Experiment.run_count``/``artifact_count``/``artifact_bytes``, ``Run.artifact_*``),
never from a COUNT over artifacts on the request path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.db.models import (
    Count,
    F,
    FloatField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    TextField,
    Value,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, Length, NullIf
from django.utils import timezone

from catalog.models import (
    RUN_DELETED_WITH_ARTIFACTS,
    RUN_WITHOUT_ARTIFACTS,
    Artifact,
    Category,
    Experiment,
    LoggedModel,
    MetricPoint,
    ModelVersion,
    RegisteredModel,
    Run,
    SyncRun,
)

# How many metric keys, runs or versions a chart or a picker looks at: enough for any
# honest comparison, bounded whatever the data size.
METRIC_KEY_SAMPLE = 500
CHART_MAX_BARS = 40
KEY_MODELS_SHOWN = 3
SEARCH_LIMIT = 20
# Heavy columns of an experiment that list pages showing its name never read.
EXPERIMENT_HEAVY_FIELDS = (
    "experiment__tags",
    "experiment__mlflow_description",
    "experiment__description",
    "experiment__notes",
)
# MLflow experiment ids are numbers in strings: shorter first sorts "2" before "10".
EXPERIMENT_NUMERIC_ORDER = ("id_length", "experiment_id")
# Metrics shown first in "key metrics" cells and picked first by charts.
PREFERRED_METRICS = (
    "accuracy",
    "f1",
    "f1_score",
    "roc_auc",
    "auc",
    "precision",
    "recall",
    "rmse",
    "mae",
    "mape",
    "r2",
)


# --- shared pieces ------------------------------------------------------------------------


def effective_category_expression():
    """SQL for ``RegisteredModel.effective_category``: the override when set, else inferred."""
    return Coalesce(NullIf(F("category_override"), Value("")), F("category"))


def last_sync() -> SyncRun | None:
    """The latest finished sync (ok, partial, failed or aborted: not running), or None."""
    return SyncRun.objects.exclude(status=SyncRun.Status.RUNNING).first()


@dataclass(frozen=True)
class DataVersion:
    """What every page is a function of, read in one query (see ``catalog.pagecache``).

    ``token`` changes when a sync starts or finishes (the newest SyncRun's id, status and
    times) and when the admin logs an edit (the newest LogEntry's id and time): between
    those, the synced and curated rows stay as they are. ``last_sync`` is the header's
    "synced N min ago" (the latest finished sync, as ``last_sync()``).
    """

    token: str
    last_sync: SyncRun | None


def _data_version_sql() -> str:
    quote = connection.ops.quote_name
    sync, log = quote(SyncRun._meta.db_table), quote(LogEntry._meta.db_table)
    # Table names come from model metadata; the one value is a query parameter.
    return (
        f"SELECT s.*,"  # noqa: S608
        f" (SELECT l.id FROM {log} l ORDER BY l.id DESC LIMIT 1) AS edit_pk,"
        f" (SELECT l.action_time FROM {log} l ORDER BY l.id DESC LIMIT 1) AS edit_time"
        f" FROM {sync} s"
        f" WHERE s.id = (SELECT MAX(n.id) FROM {sync} n)"
        f" OR s.id = (SELECT f.id FROM {sync} f WHERE f.status <> %s"
        f" ORDER BY f.started_at DESC LIMIT 1)"
    )


def data_version() -> DataVersion:
    """The catalogue's data version: one query (two when no sync has ever run).

    Up to two SyncRun rows (the newest by id, the latest finished one, as ``last_sync``)
    each carrying the newest admin LogEntry. Every page request runs it, so it is plain
    SQL: the same query built with the ORM (four subqueries) cost ~1.3 ms of Python per
    request against ~0.1 ms (SQLite), a quarter of a page cache hit. Portable SQL only.
    """
    rows = list(SyncRun.objects.raw(_data_version_sql(), [SyncRun.Status.RUNNING.value]))
    if rows:
        edit = (rows[0].edit_pk, rows[0].edit_time)
    else:
        edit = LogEntry.objects.order_by("-pk").values_list("pk", "action_time").first()
    newest = max(rows, key=lambda row: row.pk, default=None)
    finished = [row for row in rows if row.status != SyncRun.Status.RUNNING]
    latest_finished = max(finished, key=lambda row: row.started_at, default=None)
    sync_part = (
        (newest.pk, newest.status, newest.started_at, newest.finished_at) if newest else None
    )
    # edit_time is a string on SQLite (raw columns are not converted): fine for a token.
    return DataVersion(token=repr((sync_part, edit)), last_sync=latest_finished)


def request_data_version(request) -> DataVersion:
    """``data_version()`` read once per request (the page cache and the header share it)."""
    version = getattr(request, "_catalog_data_version", None)
    if version is None:
        version = data_version()
        request._catalog_data_version = version
    return version


def request_last_sync(request) -> SyncRun | None:
    """The latest finished sync, read once per request (the header and a view both show it)."""
    return request_data_version(request).last_sync


def order_metric_keys(keys) -> list[str]:
    """Metric keys with the usual quality metrics first, then alphabetical."""
    preferred = [key for key in PREFERRED_METRICS if key in keys]
    return preferred + sorted(set(keys) - set(preferred))


def _metric_keys_of(dicts) -> list[str]:
    keys: set[str] = set()
    for metrics in dicts:
        if isinstance(metrics, dict):
            keys.update(metrics)
    return order_metric_keys(keys)


def _is_number(value) -> bool:
    """A finite int or float (MLflow metrics may be NaN or infinite; charts skip those)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def pick_metric(*, requested: str | None, available: list[str]) -> str | None:
    """The requested metric when it is one of ``available``, else the first available."""
    if requested and requested in available:
        return requested
    return available[0] if available else None


# --- home and experiments -----------------------------------------------------------------


def experiment_rows() -> QuerySet[Experiment]:
    """Experiments for the quick-reference and folder tables.

    Annotated with ``model_count`` (present registered models made there) and
    ``key_model_0`` .. ``key_model_<KEY_MODELS_SHOWN - 1>``, the first of their names:
    a few correlated lookups per row of the page rather than loading every model.
    """
    names = (
        RegisteredModel.objects.filter(experiment=OuterRef("pk"), missing_since=None)
        .order_by("name")
        .values("name")
    )
    return (
        Experiment.objects.annotate(
            model_count=Count("registered_models", filter=Q(registered_models__missing_since=None)),
            **{
                f"key_model_{index}": Subquery(names[index : index + 1])
                for index in range(KEY_MODELS_SHOWN)
            },
        )
        .annotate(id_length=Length("experiment_id"))
        .order_by(*EXPERIMENT_NUMERIC_ORDER)
    )


def key_model_names(experiment: Experiment) -> list[str]:
    """The key model names annotated by ``experiment_rows`` on ``experiment``."""
    names = (getattr(experiment, f"key_model_{index}", None) for index in range(KEY_MODELS_SHOWN))
    return [name for name in names if name]


@dataclass(frozen=True)
class Overview:
    """The seed's "Overview": buckets, totals, storage pattern, bytes stored."""

    buckets: list[str]
    experiment_count: int
    deleted_experiment_count: int
    run_count: int
    model_count: int
    artifact_count: int
    artifact_bytes: int
    storage_pattern: str = "{experiment_id}/{run_id}/artifacts/{artifact_path}"


def bucket_of(uri: str) -> str:
    """The bucket of an ``s3://bucket/prefix`` URI, or "" for anything else."""
    if not uri.startswith("s3://"):
        return ""
    return uri[len("s3://") :].split("/", 1)[0]


def overview() -> Overview:
    """Catalogue totals from the denormalised counters: three queries."""
    totals = Experiment.objects.filter(missing_since=None).aggregate(
        active=Count("id", filter=Q(lifecycle_stage="active")),
        deleted=Count("id", filter=~Q(lifecycle_stage="active")),
        runs=Coalesce(Sum("run_count"), 0),
        artifacts=Coalesce(Sum("artifact_count"), 0),
        bytes=Coalesce(Sum("artifact_bytes"), 0),
    )
    locations = Experiment.objects.filter(missing_since=None).values_list(
        "artifact_location", flat=True
    )
    # Distinct buckets: a few per deployment, however many experiments.
    buckets = sorted({bucket_of(location) for location in locations.distinct()[:10_000]} - {""})
    return Overview(
        buckets=buckets,
        experiment_count=totals["active"],
        deleted_experiment_count=totals["deleted"],
        run_count=totals["runs"],
        model_count=RegisteredModel.objects.filter(missing_since=None).count(),
        artifact_count=totals["artifacts"],
        artifact_bytes=totals["bytes"],
    )


def experiment_runs(*, experiment: Experiment) -> QuerySet[Run]:
    """The runs of one experiment, newest first (the runs table)."""
    return Run.objects.filter(experiment=experiment).order_by("-start_time", "run_id")


def experiment_models(*, experiment: Experiment) -> QuerySet[RegisteredModel]:
    """Registered models made in ``experiment``: their latest version's run is there."""
    return registered_model_rows().filter(experiment=experiment)


def experiment_metric_keys(*, experiment: Experiment) -> list[str]:
    """Metric keys of the experiment's most recent runs (a bounded sample)."""
    sample = experiment_runs(experiment=experiment).values_list("metrics", flat=True)
    return _metric_keys_of(sample[:METRIC_KEY_SAMPLE])


def run_metric_values(*, experiment: Experiment, metric: str) -> list[tuple[str, float]]:
    """(run label, value) of ``metric`` for the experiment's most recent runs that have it.

    Ordered by run name so the chart reads like a table (e.g. the six AI4I classifiers,
    baseline beside engineered). At most ``CHART_MAX_BARS`` runs.
    """
    rows = (
        experiment_runs(experiment=experiment)
        .filter(missing_since=None, metrics__has_key=metric)
        .values_list("name", "run_id", "metrics")[:CHART_MAX_BARS]
    )
    values = []
    for name, run_id, metrics in rows:
        value = metrics.get(metric)
        if _is_number(value):
            values.append((name or run_id[:8], float(value)))
    return sorted(values)


# --- runs ---------------------------------------------------------------------------------


def run_detail(*, run_id: str) -> Run | None:
    """One run with its experiment, or None."""
    return Run.objects.select_related("experiment").filter(run_id=run_id).first()


def run_history_keys(*, run: Run) -> list[str]:
    """Metric keys with more than one history point (worth a chart), in display order."""
    keys = (
        MetricPoint.objects.filter(run=run)
        .values("key")
        .annotate(points=Count("id"))
        .filter(points__gt=1)
        .values_list("key", flat=True)
    )
    return order_metric_keys(list(keys[:METRIC_KEY_SAMPLE]))


MAX_HISTORY_POINTS = 5_000


def run_metric_series(*, run: Run, key: str) -> list[tuple[int, float]]:
    """(step, value) points of one metric of one run, at most ``MAX_HISTORY_POINTS``."""
    rows = (
        MetricPoint.objects.filter(run=run, key=key, value__isnull=False)
        .order_by("step", "timestamp")
        .values_list("step", "value")[:MAX_HISTORY_POINTS]
    )
    return [(int(step), float(value)) for step, value in rows if _is_number(value)]


def run_model_versions(*, run: Run) -> QuerySet[ModelVersion]:
    """The registered model versions made from ``run``."""
    return (
        ModelVersion.objects.filter(run=run)
        .select_related("registered_model")
        .order_by("registered_model__name", "-version")
    )


def run_logged_models(*, run: Run) -> QuerySet[LoggedModel]:
    return LoggedModel.objects.filter(run=run).order_by("model_id")


def logged_model_detail(*, model_id: str) -> LoggedModel | None:
    return LoggedModel.objects.select_related("experiment", "run").filter(model_id=model_id).first()


# --- registered models --------------------------------------------------------------------


def registered_model_rows() -> QuerySet[RegisteredModel]:
    """Registered models for the models table.

    Annotated with ``effective_category_value`` (sortable), ``version_count`` and
    ``latest_artifacts_present`` (the latest version's ``artifacts_present``).
    """
    latest = ModelVersion.objects.filter(
        registered_model=OuterRef("pk"), version=OuterRef("latest_version")
    )
    return (
        RegisteredModel.objects.select_related("experiment")
        .defer(*EXPERIMENT_HEAVY_FIELDS)
        .annotate(
            effective_category_value=effective_category_expression(),
            # A correlated count, not a JOIN + GROUP BY: only the page's rows are counted.
            version_count=Coalesce(
                Subquery(
                    ModelVersion.objects.filter(registered_model=OuterRef("pk"))
                    .order_by()
                    .values("registered_model")
                    .annotate(n=Count("id"))
                    .values("n")[:1]
                ),
                0,
            ),
            latest_artifacts_present=Subquery(latest.values("artifacts_present")[:1]),
        )
        .order_by("name")
    )


def registered_model_detail(*, name: str) -> RegisteredModel | None:
    return RegisteredModel.objects.select_related("experiment").filter(name=name).first()


def model_versions(*, registered_model: RegisteredModel) -> QuerySet[ModelVersion]:
    """Versions of one model, newest first, with their source runs and experiments."""
    return (
        ModelVersion.objects.filter(registered_model=registered_model)
        .select_related("registered_model", "run", "run__experiment", "logged_model")
        .order_by("-version")
    )


def model_version_detail(*, name: str, version: int) -> ModelVersion | None:
    return (
        ModelVersion.objects.select_related(
            "registered_model", "run", "run__experiment", "logged_model"
        )
        .filter(registered_model__name=name, version=version)
        .first()
    )


def version_metric_values(
    *, registered_model: RegisteredModel, metric: str
) -> list[tuple[str, float]]:
    """("v<n>", value of ``metric`` on the source run) for the model's latest versions."""
    rows = (
        ModelVersion.objects.filter(registered_model=registered_model, run__isnull=False)
        .order_by("-version")
        .values_list("version", "run__metrics")[:CHART_MAX_BARS]
    )
    values = []
    for version, metrics in reversed(list(rows)):
        value = (metrics or {}).get(metric)
        if _is_number(value):
            values.append((f"v{version}", float(value)))
    return values


def version_metric_keys(*, versions) -> list[str]:
    """Metric keys of the source runs of already-fetched ``versions``."""
    return _metric_keys_of(version.run.metrics for version in versions if version.run)


@dataclass(frozen=True)
class LoadSnippet:
    """One copy-paste way to load a model version, with what it addresses."""

    label: str
    uri: str

    @property
    def code(self) -> str:
        return f'model = mlflow.pyfunc.load_model("{self.uri}")'


def run_relative_path(version: ModelVersion) -> str:
    """The version's artifact path under its run (``"model"``), or "" if not run-relative."""
    source = version.source or ""
    run_id = version.source_run_id or (version.run.run_id if version.run else "")
    if source.startswith("runs:/"):
        rest = source[len("runs:/") :]
        _, _, path = rest.partition("/")
        return path.strip("/")
    marker = f"/{run_id}/artifacts/" if run_id else ""
    if marker and marker in source:
        return source.split(marker, 1)[1].strip("/")
    return ""


def load_snippets(
    *, version: ModelVersion, registered_model: RegisteredModel, include_aliases: bool = True
) -> list[LoadSnippet]:
    """Every valid URI that loads ``version``: by alias, by number, by run, by S3, by id.

    Never the seed's ``models://`` (not a valid MLflow URI).
    """
    name = registered_model.name
    snippets = [
        LoadSnippet(label=f"Alias @{alias}", uri=f"models:/{name}@{alias}")
        for alias in sorted(version.aliases or [])
        if include_aliases
    ]
    snippets.append(
        LoadSnippet(label=f"Version {version.version}", uri=f"models:/{name}/{version.version}")
    )
    run_id = version.source_run_id or (version.run.run_id if version.run else "")
    path = run_relative_path(version)
    if run_id and path:
        snippets.append(LoadSnippet(label="Source run", uri=f"runs:/{run_id}/{path}"))
    if version.artifact_bucket and version.artifact_prefix:
        prefix = version.artifact_prefix.rstrip("/")
        snippets.append(
            LoadSnippet(label="S3 path", uri=f"s3://{version.artifact_bucket}/{prefix}")
        )
    if version.logged_model_id is not None:
        snippets.append(
            LoadSnippet(label="Logged model", uri=f"models:/{version.logged_model.model_id}")
        )
    return snippets


# --- categories ---------------------------------------------------------------------------

CATEGORY_MODELS_SHOWN = 50
# What the categories page and its folder links need: no descriptions, tags or JSON.
CATEGORY_MODEL_FIELDS = (
    "name",
    "category",
    "category_override",
    "experiment__experiment_id",
    "experiment__name",
    "experiment__artifact_location",
)


@dataclass
class CategoryGroup:
    value: str
    label: str
    count: int
    models: list[RegisteredModel] = field(default_factory=list)

    @property
    def more(self) -> int:
        return max(0, self.count - len(self.models))


def category_groups() -> list[CategoryGroup]:
    """Present registered models grouped by effective category, as the seed groups them.

    One count query plus one bounded query per category (a fixed, small enum).
    """
    present = RegisteredModel.objects.filter(missing_since=None).annotate(
        effective_category_value=effective_category_expression()
    )
    counts = dict(
        present.values("effective_category_value")
        .annotate(n=Count("id"))
        .values_list("effective_category_value", "n")
    )
    groups = []
    for category in Category:
        if not counts.get(category.value):
            continue
        models = list(
            present.filter(effective_category_value=category.value)
            .select_related("experiment")
            .only(*CATEGORY_MODEL_FIELDS)
            .order_by("name")[:CATEGORY_MODELS_SHOWN]
        )
        groups.append(
            CategoryGroup(
                value=category.value,
                label=category.label,
                count=counts[category.value],
                models=models,
            )
        )
    return groups


# --- quality leaderboard ------------------------------------------------------------------


def latest_versions() -> QuerySet[ModelVersion]:
    """The latest version of each present registered model, with the model (joined anyway)."""
    return ModelVersion.objects.filter(
        registered_model__missing_since=None,
        version=F("registered_model__latest_version"),
    ).select_related("registered_model")


def _metric_key_sample() -> QuerySet[ModelVersion]:
    """The latest versions whose source runs' metric keys are sampled (the first by name)."""
    return latest_versions().filter(run__isnull=False)


def leaderboard_metric_keys() -> list[str]:
    """Metric keys found on the latest versions' source runs (a bounded sample)."""
    sample = _metric_key_sample().values_list("run__metrics", flat=True)
    return _metric_keys_of(sample[:METRIC_KEY_SAMPLE])


def leaderboard_has_metric(*, metric: str) -> bool:
    """Whether ``metric`` is one of ``leaderboard_metric_keys()``: one EXISTS query.

    For the mapping export, which only asks about "accuracy": the keys themselves mean
    decoding every sampled run's metrics in Python (~3 ms for 500 runs).
    """
    sample = _metric_key_sample().values("pk")[:METRIC_KEY_SAMPLE]
    return ModelVersion.objects.filter(pk__in=sample, run__metrics__has_key=metric).exists()


# Metrics where smaller is better (errors and losses): ranked ascending, and a threshold
# means "at most". Matched on the words of the key ("val_loss", "holdout_day_mae").
LOWER_IS_BETTER_WORDS = frozenset(
    {"rmse", "mse", "mae", "mape", "smape", "loss", "error", "err", "l1", "l2", "logloss"}
)


def lower_is_better(metric: str) -> bool:
    """Whether a smaller value of ``metric`` is better (an error or a loss)."""
    words = metric.lower().replace("-", "_").replace(".", "_").replace("/", "_").split("_")
    return any(word in LOWER_IS_BETTER_WORDS for word in words)


def _source_run_value_by_pk(*, metric: str, threshold: float | None, within: str) -> Subquery:
    """``metric`` of a version's source run as a float, looked up by the run's pk.

    NULL when the run lacks the metric (or holds null there) or, with a ``threshold``,
    when the value is not ``within`` (``"gte"``/``"lte"``) it: the leaderboard then
    filters on one ``IS NOT NULL``, which evaluates the lookup once per version.

    For PostgreSQL. Joined with the versions instead, its planner merge-joined them with
    the runs along the run primary key whenever the statistics leaned that way (the two
    plans cost within 3% of each other; re-sampling the statistics flips between them):
    it then read and tested the metrics of every run up to the highest one referenced,
    14,020 runs to keep 2,000 in the benchmark's world, 2-3 x the time of the lookups.
    A correlated lookup is one primary-key lookup per latest version, whatever the plan.
    """
    runs = Run.objects.filter(pk=OuterRef("run_id")).annotate(
        value=Cast(KeyTextTransform(metric, "metrics"), FloatField())
    )
    if threshold is not None:
        runs = runs.filter(**{f"value__{within}": threshold})
    return Subquery(runs.order_by().values("value"), output_field=FloatField())


def leaderboard(*, metric: str, threshold: float | None = None) -> QuerySet[ModelVersion]:
    """Latest versions ranked by ``metric`` of their source run, best first.

    Annotated with ``metric_value``; versions without the metric are left out. With a
    ``threshold`` only those at or above it are kept (the seed's ">90% accuracy"), or at
    or below it for an error metric (``lower_is_better``), which also ranks ascending.

    The same rows on both databases, each by the query it runs best (ADR 0014):
    PostgreSQL looks each version's run up by pk (``_source_run_value_by_pk``); SQLite,
    which has no merge join and looks the runs up by pk when joined, keeps the join (a
    correlated lookup per row cost it 20-40% more).
    """
    ascending = lower_is_better(metric)
    within = "lte" if ascending else "gte"
    if connection.vendor == "postgresql":
        value = _source_run_value_by_pk(metric=metric, threshold=threshold, within=within)
        rows = latest_versions().annotate(metric_value=value)
    else:
        value = Cast(KeyTextTransform(metric, "run__metrics"), FloatField())
        rows = latest_versions().annotate(metric_value=value)
        if threshold is not None:
            rows = rows.filter(**{f"metric_value__{within}": threshold})
    best_first = F("metric_value").asc() if ascending else F("metric_value").desc()
    return rows.filter(metric_value__isnull=False).order_by(best_first, "registered_model__name")


# What a leaderboard row shows (``LeaderboardTable``): names, ids and the category.
LEADERBOARD_VERSION_FIELDS = (
    "version",
    "run",
    "registered_model__name",
    "registered_model__category",
    "registered_model__category_override",
)
LEADERBOARD_RUN_FIELDS = ("run_id", "name", "experiment__experiment_id", "experiment__name")


def leaderboard_rows(
    *, metric: str, threshold: float | None = None, every_row: bool = False
) -> QuerySet[ModelVersion]:
    """``leaderboard()`` for the table: the shown columns only, with runs and experiments.

    No JSON column (params, metrics, tags, aliases) is read or decoded for a row. A
    page's rows get their runs and experiments in one more query, by pk, for those rows
    only: joined to every ranked version instead, they let PostgreSQL's planner pick a
    merge join along the run primary key again (it did on one of two builds of the
    benchmark's database: 14,021 runs walked, 27 of the query's 66 ms). ``every_row``
    (the CSV export) joins them: every row is read anyway, and a prefetch's ``IN`` over
    2,000 runs is more than SQLite can parse (Django 5.2 writes it as one OR per run,
    past SQLite's expression depth of 1,000).
    """
    rows = leaderboard(metric=metric, threshold=threshold).only(*LEADERBOARD_VERSION_FIELDS)
    if every_row:
        return rows.select_related("run__experiment").only(
            *LEADERBOARD_VERSION_FIELDS, *(f"run__{name}" for name in LEADERBOARD_RUN_FIELDS)
        )
    runs = Run.objects.select_related("experiment").only(*LEADERBOARD_RUN_FIELDS)
    return rows.prefetch_related(Prefetch("run", queryset=runs))


def leaderboard_values(*, metric: str, threshold: float | None) -> list[tuple[str, float]]:
    """(model name, value) of the top ``CHART_MAX_BARS`` of the leaderboard."""
    rows = leaderboard(metric=metric, threshold=threshold).values_list(
        "registered_model__name", "metric_value"
    )
    return [(name, float(value)) for name, value in rows[:CHART_MAX_BARS] if _is_number(value)]


# --- audit --------------------------------------------------------------------------------


def present_orphans() -> QuerySet:
    """S3 objects under a root that belong to no run and no logged model, still present."""
    return Artifact.objects.filter(run=None, logged_model=None, missing_since=None)


def orphan_totals() -> dict:
    """``{"n": objects, "bytes": total size}`` of the present orphans: one aggregate query."""
    return present_orphans().aggregate(n=Count("id"), bytes=Coalesce(Sum("size"), 0))


def orphan_folders() -> QuerySet:
    """Present orphan objects grouped by (bucket, orphan folder), biggest first."""
    return (
        present_orphans()
        .values("bucket", "orphan_folder")
        .annotate(object_count=Count("id"), total_bytes=Coalesce(Sum("size"), 0))
        .order_by("-total_bytes", "bucket", "orphan_folder")
    )


def runs_without_artifacts() -> QuerySet[Run]:
    """Present runs with no S3 object (a few rows of their own index, ``RUN_WITHOUT_ARTIFACTS``)."""
    return (
        Run.objects.filter(RUN_WITHOUT_ARTIFACTS)
        .select_related("experiment")
        .order_by("experiment__experiment_id", "-start_time")
    )


def versions_with_missing_artifacts() -> QuerySet[ModelVersion]:
    return (
        ModelVersion.objects.filter(missing_since=None, artifacts_present=False)
        .select_related("registered_model", "run")
        .order_by("registered_model__name", "-version")
    )


def deleted_runs_with_artifacts() -> QuerySet[Run]:
    """Deleted or vanished runs whose S3 objects remain (``RUN_DELETED_WITH_ARTIFACTS``)."""
    return (
        Run.objects.filter(RUN_DELETED_WITH_ARTIFACTS)
        .select_related("experiment")
        .order_by("-artifact_bytes", "run_id")
    )


@dataclass(frozen=True)
class GoneItem:
    kind: str
    label: str
    url: str | None
    missing_since: datetime
    new_since_last_sync: bool


GONE_ITEMS_PER_KIND = 50


def gone_items(*, since: datetime | None) -> list[GoneItem]:
    """Rows marked missing (gone from their source), newest first, a bounded number per kind.

    ``new_since_last_sync`` flags those marked by the latest sync (``since`` is its start).
    """
    items: list[GoneItem] = []

    def add(kind, rows, label, url):
        for row in rows[:GONE_ITEMS_PER_KIND]:
            items.append(
                GoneItem(
                    kind=kind,
                    label=label(row),
                    url=url(row),
                    missing_since=row.missing_since,
                    new_since_last_sync=bool(since and row.missing_since >= since),
                )
            )

    gone = {"missing_since__isnull": False}
    add(
        "experiment",
        Experiment.objects.filter(**gone).order_by("-missing_since"),
        str,
        lambda row: row.get_absolute_url(),
    )
    add(
        "run",
        Run.objects.filter(**gone).order_by("-missing_since"),
        lambda row: f"{row.name or row.run_id} ({row.run_id})",
        lambda row: row.get_absolute_url(),
    )
    add(
        "registered model",
        RegisteredModel.objects.filter(**gone).order_by("-missing_since"),
        str,
        lambda row: row.get_absolute_url(),
    )
    add(
        "model version",
        ModelVersion.objects.filter(**gone)
        .select_related("registered_model")
        .order_by("-missing_since"),
        str,
        lambda row: row.get_absolute_url(),
    )
    add(
        "artifact",
        Artifact.objects.filter(**gone).order_by("-missing_since"),
        lambda row: row.s3_uri,
        lambda row: None,
    )
    items.sort(key=lambda item: item.missing_since, reverse=True)
    return items


@dataclass(frozen=True)
class AuditSummary:
    orphan_objects: int
    orphan_bytes: int
    runs_without_artifacts: int
    versions_missing_artifacts: int
    deleted_runs_with_artifacts: int
    deleted_runs_bytes: int
    gone: int


def audit_summary() -> AuditSummary:
    """The drift report's headline numbers: seven small aggregate queries.

    The runs' three figures are three queries, not one pass with ``FILTER``s: each is
    answered by the partial index its condition implies (``run_without_artifacts``,
    ``run_deleted_with_artifacts``, ``run_gone``), where one combined pass must read
    every run.
    """
    orphans = orphan_totals()
    empty_runs = runs_without_artifacts().count()
    deleted = (
        deleted_runs_with_artifacts()
        .order_by()
        .aggregate(n=Count("id"), bytes=Coalesce(Sum("artifact_bytes"), 0))
    )
    runs_gone = Run.objects.filter(missing_since__isnull=False).count()
    versions = ModelVersion.objects.aggregate(
        missing_artifacts=Count("id", filter=Q(missing_since=None, artifacts_present=False)),
        gone=Count("id", filter=Q(missing_since__isnull=False)),
    )
    others_gone = (
        Experiment.objects.filter(missing_since__isnull=False).count()
        + RegisteredModel.objects.filter(missing_since__isnull=False).count()
    )
    return AuditSummary(
        orphan_objects=orphans["n"],
        orphan_bytes=orphans["bytes"],
        runs_without_artifacts=empty_runs,
        versions_missing_artifacts=versions["missing_artifacts"],
        deleted_runs_with_artifacts=deleted["n"],
        deleted_runs_bytes=deleted["bytes"],
        gone=runs_gone + versions["gone"] + others_gone,
    )


# --- search -------------------------------------------------------------------------------


@dataclass
class SearchResults:
    query: str
    experiments: list[Experiment]
    runs: list[Run]
    models: list[RegisteredModel]
    artifacts: list[Artifact]
    artifact_mode: str = "all"

    @property
    def total(self) -> int:
        return len(self.experiments) + len(self.runs) + len(self.models) + len(self.artifacts)


def parse_tag_query(query: str) -> tuple[str, str | None] | None:
    """``key=value`` or ``key:value`` -> (key, value); ``key=`` -> (key, None); else None."""
    for separator in ("=", ":"):
        if separator in query:
            key, _, value = query.partition(separator)
            key, value = key.strip(), value.strip()
            return (key, value or None) if key else None
    return None


def _filter_by_tag(queryset: QuerySet, *, key: str, value: str | None) -> QuerySet:
    # KeyTextTransform takes the key literally (a tag key may hold "__" or dots).
    rows = queryset.annotate(tag_value=Cast(KeyTextTransform(key, "tags"), TextField()))
    return (
        rows.filter(tag_value=value) if value is not None else rows.filter(tag_value__isnull=False)
    )


# Up to this many catalogued objects, any search also scans artifact keys (fast enough);
# above it, only queries that look like a file or path ("roc_curve.pdf", "plots/") do,
# so a plain word stays a fast search on a catalogue of millions of objects.
DEFAULT_ARTIFACT_FULL_SCAN_MAX = 200_000


def _artifact_search_mode(query: str) -> str:
    """ "all", "paths" (only a path-like query scans keys) or "none", from the catalogue size."""
    if "." in query or "/" in query:
        return "all"
    limit = getattr(
        settings, "CATALOG_SEARCH_FULL_SCAN_MAX_ARTIFACTS", DEFAULT_ARTIFACT_FULL_SCAN_MAX
    )
    # The synced per-experiment totals: no COUNT over the artifact table.
    total = Experiment.objects.aggregate(total=Coalesce(Sum("artifact_count"), 0))["total"]
    return "all" if total <= limit else "paths"


def search(*, query: str, limit: int = SEARCH_LIMIT) -> SearchResults:
    """Experiments, runs, models and artifacts matching ``query`` by name, id, key or tag.

    ``key=value`` (or ``key:value``) searches tags instead of names; runs also match by
    run id prefix. Each kind is one query of at most ``limit`` rows. Artifacts match
    anywhere in their key; on a very large catalogue only for path-like queries (see
    ``DEFAULT_ARTIFACT_FULL_SCAN_MAX``), reported as ``artifact_mode``.
    """
    query = query.strip()
    if not query:
        return SearchResults(query="", experiments=[], runs=[], models=[], artifacts=[])
    experiments = Experiment.objects.all()
    runs = Run.objects.select_related("experiment")
    models = RegisteredModel.objects.select_related("experiment")
    tag = parse_tag_query(query)
    artifacts: list[Artifact] = []
    if tag is not None:
        key, value = tag
        experiments, runs, models = (
            _filter_by_tag(rows, key=key, value=value) for rows in (experiments, runs, models)
        )
        artifact_mode = "none"
    else:
        experiments = experiments.filter(Q(name__icontains=query) | Q(experiment_id=query))
        runs = runs.filter(Q(name__icontains=query) | Q(run_id__startswith=query.lower()))
        models = models.filter(name__icontains=query)
        artifact_mode = _artifact_search_mode(query)
        if artifact_mode == "all":
            artifacts = list(
                Artifact.objects.filter(missing_since=None, key__icontains=query)
                .select_related("run", "logged_model")
                .order_by()[:limit]
            )
    return SearchResults(
        query=query,
        experiments=list(experiments[:limit]),
        runs=list(runs[:limit]),
        models=list(models[:limit]),
        artifacts=artifacts,
        artifact_mode=artifact_mode,
    )


# --- health -------------------------------------------------------------------------------


def sync_age_seconds(sync: SyncRun | None) -> int | None:
    if sync is None or sync.finished_at is None:
        return None
    return int((timezone.now() - sync.finished_at).total_seconds())
