"""Reads of the quality leaderboard (``/metrics/``)."""

from __future__ import annotations

from django.db import connection
from django.db.models import (
    F,
    FloatField,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from catalog.models import (
    ModelVersion,
    Run,
)
from catalog.selectors.common import (
    CHART_MAX_BARS,
    METRIC_KEY_SAMPLE,
    _is_number,
    _metric_keys_of,
)


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
