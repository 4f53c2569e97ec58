"""Reads of the quality leaderboard (``/metrics/``)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from django.db import connection
from django.db.models import (
    Count,
    Exists,
    F,
    FloatField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from catalog.models import (
    Category,
    ModelVersion,
    Run,
)
from catalog.selectors.common import (
    CHART_MAX_BARS,
    METRIC_KEY_SAMPLE,
    _is_number,
    _metric_keys_of,
)

# Models that are not models of the machine (scalers, encoders, feature pipelines): they
# are logged beside the model they serve, in its run, so "their" metrics are that
# model's. The leaderboard leaves them out unless asked.
UTILITY_CATEGORIES = (Category.PREPROCESSING.value,)
RANKED_CATEGORIES = tuple(
    category.value for category in Category if category.value not in UTILITY_CATEGORIES
)


def in_categories(categories: Collection[str], *, prefix: str = "registered_model__") -> Q:
    """Versions (or, with ``prefix=""``, models) whose effective category is one of these.

    The admin's override wins over the category the sync inferred, as everywhere.
    """
    categories = list(categories)
    return Q(**{f"{prefix}category_override__in": categories}) | Q(
        **{f"{prefix}category_override": "", f"{prefix}category__in": categories}
    )


def latest_versions(*, categories: Collection[str] | None = None) -> QuerySet[ModelVersion]:
    """The latest version of each present registered model, with the model (joined anyway).

    ``categories``: only models whose effective category is one of them (None: every one).
    """
    rows = ModelVersion.objects.filter(
        registered_model__missing_since=None,
        version=F("registered_model__latest_version"),
    ).select_related("registered_model")
    return rows if categories is None else rows.filter(in_categories(categories))


def _metric_key_sample(*, categories: Collection[str] | None = None) -> QuerySet[ModelVersion]:
    """The latest versions whose source runs' metric keys are sampled (the first by name)."""
    return latest_versions(categories=categories).filter(run__isnull=False)


def leaderboard_metric_keys(*, categories: Collection[str] | None = None) -> list[str]:
    """Metric keys found on the latest versions' source runs (a bounded sample)."""
    sample = _metric_key_sample(categories=categories).values_list("run__metrics", flat=True)
    return _metric_keys_of(sample[:METRIC_KEY_SAMPLE])


def leaderboard_has_metric(*, metric: str, categories: Collection[str] | None = None) -> bool:
    """Whether ``metric`` is one of ``leaderboard_metric_keys()``: one EXISTS query.

    For the mapping export, which only asks about "accuracy": the keys themselves mean
    decoding every sampled run's metrics in Python (~3 ms for 500 runs).
    """
    sample = _metric_key_sample(categories=categories).values("pk")[:METRIC_KEY_SAMPLE]
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


def leaderboard(
    *,
    metric: str,
    threshold: float | None = None,
    categories: Collection[str] | None = None,
) -> QuerySet[ModelVersion]:
    """Latest versions ranked by ``metric`` of their source run, best first.

    Annotated with ``metric_value``; versions without the metric are left out. With a
    ``threshold`` only those at or above it are kept (the seed's ">90% accuracy"), or at
    or below it for an error metric (``lower_is_better``), which also ranks ascending.
    ``categories``: only models of these effective categories (None: every category).

    The same rows on both databases, each by the query it runs best (ADR 0014):
    PostgreSQL looks each version's run up by pk (``_source_run_value_by_pk``); SQLite,
    which has no merge join and looks the runs up by pk when joined, keeps the join (a
    correlated lookup per row cost it 20-40% more).
    """
    ascending = lower_is_better(metric)
    within = "lte" if ascending else "gte"
    if connection.vendor == "postgresql":
        value = _source_run_value_by_pk(metric=metric, threshold=threshold, within=within)
        rows = latest_versions(categories=categories).annotate(metric_value=value)
    else:
        value = Cast(KeyTextTransform(metric, "run__metrics"), FloatField())
        rows = latest_versions(categories=categories).annotate(metric_value=value)
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
# Versions read per source run to name the other models registered from it: a run that
# is the source of hundreds of versions must not make a page read them all.
SHARED_RUN_VERSIONS_READ = 20


def _versions_of_the_same_run() -> Prefetch:
    """The present versions registered from a run, as ``run.registered_versions``.

    Bounded per run (``SHARED_RUN_VERSIONS_READ``); names and ids only.
    """
    versions = (
        ModelVersion.objects.filter(missing_since=None, registered_model__missing_since=None)
        .select_related("registered_model")
        .only("run", "registered_model__name")
        .order_by("registered_model__name", "version")
    )
    return Prefetch(
        "model_versions",
        queryset=versions[:SHARED_RUN_VERSIONS_READ],
        to_attr="registered_versions",
    )


@dataclass(frozen=True)
class SharedRun:
    """The other models registered from a version's source run (see ``shared_with``)."""

    names: tuple[str, ...]
    # True when the run's versions were read up to ``SHARED_RUN_VERSIONS_READ``: there
    # may be more models than ``names``.
    maybe_more: bool

    def __bool__(self) -> bool:
        return bool(self.names)


def shared_with(version: ModelVersion) -> SharedRun:
    """The other registered models whose versions come from ``version``'s source run.

    Their metrics are that one run's: the leaderboard says so in the row, since the
    value describes whichever model the run trained, not necessarily this one. Reads
    only what ``leaderboard_rows`` prefetched (no query); no run, no sharing.
    """
    run = version.run if version.run_id is not None else None
    found = getattr(run, "registered_versions", None) or []
    names = sorted(
        {
            other.registered_model.name
            for other in found
            if other.registered_model_id != version.registered_model_id
        }
    )
    return SharedRun(names=tuple(names), maybe_more=len(found) >= SHARED_RUN_VERSIONS_READ)


def leaderboard_rows(
    *,
    metric: str,
    threshold: float | None = None,
    every_row: bool = False,
    categories: Collection[str] | None = None,
) -> QuerySet[ModelVersion]:
    """``leaderboard()`` for the table: the shown columns only, with runs and experiments.

    No JSON column (params, metrics, tags, aliases) is read or decoded for a row. A
    page's rows get their runs and experiments in one more query, by pk, for those rows
    only: joined to every ranked version instead, they let PostgreSQL's planner pick a
    merge join along the run primary key again (it did on one of two builds of the
    benchmark's database: 14,021 runs walked, 27 of the query's 66 ms). ``every_row``
    (the CSV export) joins them: every row is read anyway, and a prefetch's ``IN`` over
    2,000 runs is more than SQLite can parse (Django 5.2 writes it as one OR per run,
    past SQLite's expression depth of 1,000). Either way the versions registered from
    the same runs (``shared_with``) come in one more query.
    """
    rows = leaderboard(metric=metric, threshold=threshold, categories=categories).only(
        *LEADERBOARD_VERSION_FIELDS
    )
    if every_row:
        return (
            rows.select_related("run__experiment")
            .only(*LEADERBOARD_VERSION_FIELDS, *(f"run__{name}" for name in LEADERBOARD_RUN_FIELDS))
            .prefetch_related(
                Prefetch(
                    "run__model_versions",
                    queryset=_versions_of_the_same_run().queryset,
                    to_attr="registered_versions",
                )
            )
        )
    runs = (
        Run.objects.select_related("experiment")
        .only(*LEADERBOARD_RUN_FIELDS)
        .prefetch_related(_versions_of_the_same_run())
    )
    return rows.prefetch_related(Prefetch("run", queryset=runs))


@dataclass(frozen=True)
class LeaderboardCounts:
    """How many models a leaderboard view ranks, and how many it leaves aside."""

    ranked: int  # in the chosen categories, with the metric
    within: int  # of those, at or better than the threshold (all of them without one)
    utility: int  # preprocessing/utility models with the metric, whatever was chosen

    @property
    def below(self) -> int:
        return self.ranked - self.within


def leaderboard_counts(
    *, metric: str, threshold: float | None, categories: Collection[str] | None
) -> LeaderboardCounts:
    """The counts the leaderboard page states, in one query over every ranked version."""
    rows = leaderboard(metric=metric)
    chosen = Q() if categories is None else in_categories(categories)
    within = Q()
    if threshold is not None:
        side = "lte" if lower_is_better(metric) else "gte"
        within = Q(**{f"metric_value__{side}": threshold})
    counts = rows.order_by().aggregate(
        ranked=Count("pk", filter=chosen),
        within=Count("pk", filter=chosen & within),
        utility=Count("pk", filter=in_categories(UTILITY_CATEGORIES)),
    )
    return LeaderboardCounts(**counts)


def leaderboard_values(
    *, metric: str, categories: Collection[str] | None = None
) -> list[tuple[str, float]]:
    """(model name, value) of the top ``CHART_MAX_BARS`` of the leaderboard.

    Every ranked model, within a threshold or not: the chart draws the threshold as a
    line and colours the bars that pass, as the page greys the rows that do not.
    """
    rows = leaderboard(metric=metric, categories=categories).values_list(
        "registered_model__name", "metric_value"
    )
    return [(name, float(value)) for name, value in rows[:CHART_MAX_BARS] if _is_number(value)]


# Forecasters are ranked on their errors, the first of these their runs record.
FORECAST_ERROR_METRICS = ("rmse", "mae", "mape", "smape", "mse")
FORECASTING_CATEGORIES = (Category.FORECASTING.value,)


def forecast_error_metric(*, keys: Collection[str]) -> str | None:
    """The error metric forecasters are ranked on, from their runs' metric ``keys``.

    RMSE, then MAE, MAPE ...; else any error or loss metric (``lower_is_better``);
    None when they record none: a forecaster's accuracy is not a thing to rank.
    """
    for metric in FORECAST_ERROR_METRICS:
        if metric in keys:
            return metric
    errors = sorted(key for key in keys if lower_is_better(key))
    return errors[0] if errors else None


def forecasting_metric_keys() -> list[str]:
    """``leaderboard_metric_keys`` of forecasting models only."""
    return leaderboard_metric_keys(categories=FORECASTING_CATEGORIES)


# --- the mapping export's quality summary -------------------------------------------------


@dataclass(frozen=True, slots=True)
class QualityRow:
    """One line of the export's quality summary."""

    model_name: str
    version: int
    metric_value: float | None
    artifact_location: str | None  # of the source run's experiment; None without a run


@dataclass(frozen=True)
class QualitySummary:
    """The export's "Quality Metrics Summary": the models above a threshold on ``metric``
    (models of a shared run left out and named) and the forecasters on their error."""

    metric: str | None
    threshold: float
    rows: list[QualityRow]
    shared_left_out: list[str]
    forecast_metric: str | None
    forecast_rows: list[QualityRow]


def _sharing_another_ranked_model() -> Exists:
    """Whether another present, non-utility model has a present version of this source run.

    Such a run's metrics cannot be told apart between the models: neither is listed as
    high-performing on them. A utility model beside a run's model (a scaler) does not
    count: it is left out itself, and the metrics are the model's.
    """
    others = ModelVersion.objects.filter(
        in_categories(RANKED_CATEGORIES),
        run_id=OuterRef("run_id"),
        missing_since=None,
        registered_model__missing_since=None,
    ).exclude(registered_model_id=OuterRef("registered_model_id"))
    return Exists(others)


def _summary_rows(ranking: QuerySet[ModelVersion], *, limit: int, shared: bool = False):
    """Plain values of the first ``limit`` of ``ranking``, each with its folder.

    The folder is a lookup by the run's pk, not a join: on PostgreSQL the ranking joins
    no run (``_source_run_value_by_pk``) and a join here would bring back the merge join
    it avoids; PostgreSQL evaluates the lookup after the sort, for the kept rows only.
    """
    folder = (
        Run.objects.filter(pk=OuterRef("run_id")).order_by().values("experiment__artifact_location")
    )
    fields = ["registered_model__name", "version", "metric_value", "artifact_location"]
    rows = ranking.annotate(artifact_location=Subquery(folder))
    if shared:
        rows = rows.annotate(shared=_sharing_another_ranked_model())
        fields.append("shared")
    return list(rows.values_list(*fields)[:limit])


def ranked_on_first_found(
    fetch: Callable[[str], list], *, preferred: str, fallback: Callable[[], str | None]
) -> tuple[str | None, list]:
    """``(metric, fetch(metric))`` for ``preferred``, else for the metric ``fallback`` names.

    The usual case (the models record ``preferred``) costs ``fetch``'s query alone; only
    when it finds nothing are the metric keys read (``fallback``) and, when they name
    another metric, fetched on it. None when there is no metric to rank on.
    """
    rows = fetch(preferred)
    if rows:
        return preferred, rows
    metric = fallback()
    if metric is None:
        return None, []
    return metric, rows if metric == preferred else fetch(metric)


def _summary_fallback_metric() -> str | None:
    """Accuracy when the ranked models record it (none passed), else their first metric."""
    if leaderboard_has_metric(metric="accuracy", categories=RANKED_CATEGORIES):
        return "accuracy"
    keys = leaderboard_metric_keys(categories=RANKED_CATEGORIES)
    return keys[0] if keys else None


def _forecast_fallback_metric() -> str | None:
    metric = forecast_error_metric(keys=forecasting_metric_keys())
    # Recorded but never a number (NaN is stored as null): nothing to rank on.
    return None if metric == FORECAST_ERROR_METRICS[0] else metric


def forecast_ranking(fetch: Callable[[str], list]) -> tuple[str | None, list]:
    """The forecasters' error metric and ``fetch(metric)``: their rows ranked on it.

    RMSE when they record it (one query, ``fetch``'s), else ``forecast_error_metric``
    of their runs' keys. ``fetch`` ranks on the metric it is given, lowest first.
    """
    return ranked_on_first_found(
        fetch, preferred=FORECAST_ERROR_METRICS[0], fallback=_forecast_fallback_metric
    )


def quality_summary(*, threshold: float, limit: int) -> QualitySummary:
    """The export's quality summary: ``limit`` rows of each list, in two queries as a rule.

    The models at or better than ``threshold`` on accuracy (else the first metric
    found), of ranked categories only (no preprocessing/utility model); a model whose
    source run is also another ranked model's is named apart rather than listed. Then
    the forecasters, best first on their error metric (``forecast_ranking``).
    """

    def above_threshold(metric: str) -> list:
        ranking = leaderboard(metric=metric, threshold=threshold, categories=RANKED_CATEGORIES)
        return _summary_rows(ranking, limit=limit, shared=True)

    def forecasters(metric: str) -> list[QualityRow]:
        ranking = leaderboard(metric=metric, categories=FORECASTING_CATEGORIES)
        return [QualityRow(*row) for row in _summary_rows(ranking, limit=limit)]

    metric, ranked = ranked_on_first_found(
        above_threshold, preferred="accuracy", fallback=_summary_fallback_metric
    )
    rows: list[QualityRow] = []
    left_out: list[str] = []
    for *row, shared in ranked:
        if shared:
            left_out.append(row[0])
        else:
            rows.append(QualityRow(*row))
    forecast_metric, forecasts = forecast_ranking(forecasters)
    return QualitySummary(
        metric=metric,
        threshold=threshold,
        rows=rows,
        shared_left_out=left_out,
        forecast_metric=forecast_metric,
        forecast_rows=forecasts,
    )
