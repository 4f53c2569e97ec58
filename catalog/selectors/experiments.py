"""Reads of the home page and the experiment (S3 folder) pages."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import (
    Case,
    Count,
    F,
    FilteredRelation,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, Length, RowNumber

from catalog.models import (
    RUN_DELETED,
    Experiment,
    LoggedModel,
    RegisteredModel,
    Run,
)
from catalog.selectors.audit import keys_under, orphan_folders, present_orphans
from catalog.selectors.common import (
    CHART_MAX_BARS,
    EXPERIMENT_NUMERIC_ORDER,
    KEY_MODELS_SHOWN,
    METRIC_KEY_SAMPLE,
    PREFERRED_METRICS,
    _is_number,
    _metric_keys_of,
    counts,
)
from catalog.selectors.models import registered_model_rows
from catalog.selectors.quality import lower_is_better

# Aliases that name the model people should use: such models lead the key models.
LEADING_ALIASES = ("production", "champion")


def _alias_rank() -> Case:
    """0 for a model aliased @production or @champion, 1 for any other alias, 2 for none."""
    leading = Q()
    for alias in LEADING_ALIASES:
        leading |= Q(aliases__has_key=alias)
    return Case(
        When(leading, then=Value(0)),
        When(~Q(aliases={}), then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )


def _metric_value(metrics_field: str, metric: str):
    """``metric`` of a JSON metrics column as a number (NULL when absent or null).

    SQLite reads it with one ``JSON_EXTRACT`` (Django's key transform costs three JSON
    calls there); PostgreSQL casts the text value, as the leaderboard does.
    """
    if connection.vendor == "sqlite":
        path = '$."' + metric.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return Func(
            F(metrics_field), Value(path), function="JSON_EXTRACT", output_field=FloatField()
        )
    return Cast(KeyTextTransform(metric, metrics_field), FloatField())


def _quality_score(metrics_field: str) -> Coalesce:
    """The first ``PREFERRED_METRICS`` value a run has, signed so that higher is better.

    Error metrics (rmse, mae, ...) are negated: the score orders models best first
    whichever metric their runs report.
    """
    values = []
    for metric in PREFERRED_METRICS:
        value = _metric_value(metrics_field, metric)
        values.append(Value(-1.0) * value if lower_is_better(metric) else value)
    return Coalesce(*values, output_field=FloatField())


def key_models_by_experiment(experiment_pks) -> dict[int, list[str]]:
    """The first ``KEY_MODELS_SHOWN`` present model names of each experiment: one query.

    Key ones first: aliased @production or @champion, then any other alias, then by the
    best value of a preferred metric of the latest version's run (``_quality_score``),
    then by name. One window query over the given experiments' models (a page of them):
    each model's quality is read once, where a correlated lookup per shown name read
    them all again for each name (three times as many JSON reads, and 15 x the time on
    SQLite).
    """
    pks = list(experiment_pks)
    if not pks:
        return {}
    latest = FilteredRelation("versions", condition=Q(versions__version=F("latest_version")))
    ranked = (
        RegisteredModel.objects.filter(experiment__in=pks, missing_since=None)
        .annotate(latest=latest)
        .annotate(alias_rank=_alias_rank(), quality=_quality_score("latest__run__metrics"))
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("experiment")],
                order_by=[
                    F("alias_rank").asc(),
                    F("quality").desc(nulls_last=True),
                    F("name").asc(),
                ],
            )
        )
        .filter(rank__lte=KEY_MODELS_SHOWN)
        .order_by("experiment", "rank")
        .values_list("experiment", "name")
    )
    names: dict[int, list[str]] = {pk: [] for pk in pks}
    for experiment_pk, name in ranked:
        names[experiment_pk].append(name)
    return names


def attach_key_models(experiments) -> list:
    """Set ``key_models`` (``key_models_by_experiment``) on each experiment: one query."""
    experiments = list(experiments)
    names = key_models_by_experiment(experiment.pk for experiment in experiments)
    for experiment in experiments:
        experiment.key_models = names.get(experiment.pk, [])
    return experiments


def _deleted_run_count() -> Coalesce:
    """Present runs of the experiment that MLflow marks deleted: a correlated count."""
    deleted = (
        Run.objects.filter(RUN_DELETED, experiment=OuterRef("pk"))
        .order_by()
        .values("experiment")
        .annotate(n=Count("id"))
        .values("n")[:1]
    )
    return Coalesce(Subquery(deleted, output_field=IntegerField()), 0)


def _model_count() -> Coalesce:
    """Present registered models made in the experiment: a correlated count.

    Not a JOIN + GROUP BY: grouped, the page's COUNT(*) would have to evaluate every
    other annotation (the key models' lookups) for every experiment.
    """
    models = (
        RegisteredModel.objects.filter(experiment=OuterRef("pk"), missing_since=None)
        .order_by()
        .values("experiment")
        .annotate(n=Count("id"))
        .values("n")[:1]
    )
    return Coalesce(Subquery(models, output_field=IntegerField()), 0)


def experiment_rows() -> QuerySet[Experiment]:
    """Experiments for the quick-reference and folder tables.

    Annotated with ``model_count`` (present registered models made there),
    ``deleted_run_count`` (present runs MLflow marks deleted; ``run_count`` counts them
    too) and ``active_run_count``: correlated lookups, evaluated for the page's rows.
    The key models come after paging (``attach_key_models``).
    """
    deleted = _deleted_run_count()
    return (
        Experiment.objects.annotate(
            model_count=_model_count(),
            deleted_run_count=deleted,
            active_run_count=F("run_count") - deleted,
        )
        .annotate(id_length=Length("experiment_id"))
        .order_by(*EXPERIMENT_NUMERIC_ORDER)
    )


def key_model_names(experiment: Experiment) -> list[str]:
    """The key model names ``attach_key_models`` set on ``experiment`` (none if not set)."""
    return list(getattr(experiment, "key_models", ()))


@dataclass(frozen=True)
class Overview:
    """The seed's "Overview": buckets, totals, storage pattern, bytes stored.

    ``run_count`` counts the runs MLflow holds as active; ``deleted_run_count`` those it
    marks deleted (still in MLflow, and maybe in S3).
    """

    buckets: list[str]
    experiment_count: int
    deleted_experiment_count: int
    run_count: int
    deleted_run_count: int
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
    """Catalogue totals from the denormalised counters: three queries.

    The experiments' ``run_count`` counts every present run; the deleted ones are
    counted apart (their partial index, ``RUN_DELETED``) and taken out.
    """
    present = Experiment.objects.filter(missing_since=None)
    totals = present.aggregate(
        active=Count("id", filter=Q(lifecycle_stage="active")),
        deleted=Count("id", filter=~Q(lifecycle_stage="active")),
        runs=Coalesce(Sum("run_count"), 0),
        artifacts=Coalesce(Sum("artifact_count"), 0),
        bytes=Coalesce(Sum("artifact_bytes"), 0),
    )
    # One query for both: the deleted runs through their partial index, and the models.
    counted = counts(
        deleted_runs=Run.objects.filter(RUN_DELETED, experiment__missing_since=None),
        models=RegisteredModel.objects.filter(missing_since=None),
    )
    deleted_runs = counted["deleted_runs"]
    locations = present.values_list("artifact_location", flat=True)
    # Distinct buckets: a few per deployment, however many experiments.
    buckets = sorted({bucket_of(location) for location in locations.distinct()[:10_000]} - {""})
    return Overview(
        buckets=buckets,
        experiment_count=totals["active"],
        deleted_experiment_count=totals["deleted"],
        run_count=max(totals["runs"] - deleted_runs, 0),
        deleted_run_count=deleted_runs,
        model_count=counted["models"],
        artifact_count=totals["artifacts"],
        artifact_bytes=totals["bytes"],
    )


def experiment_detail(*, experiment_id: str) -> Experiment | None:
    """One experiment with ``deleted_run_count`` and ``active_run_count``, or None."""
    if "\x00" in experiment_id:
        return None
    deleted = _deleted_run_count()
    return (
        Experiment.objects.annotate(
            deleted_run_count=deleted, active_run_count=F("run_count") - deleted
        )
        .filter(experiment_id=experiment_id)
        .first()
    )


# How many orphan folders and logged models a folder page lists (then a link on).
FOLDER_DRIFT_ROWS = 20


def experiment_folder(experiment: Experiment) -> tuple[str, str] | None:
    """(bucket, "<prefix>/") of an ``s3://`` artifact location, else None.

    Only an ``s3://`` location names its objects' keys without configuration; a bucket's
    top (no prefix) is every folder at once, so it is no experiment folder either.
    """
    location = experiment.artifact_location or ""
    bucket = bucket_of(location)
    prefix = location[len("s3://") + len(bucket) :].strip("/")
    if not bucket or not prefix:
        return None
    return bucket, prefix + "/"


@dataclass(frozen=True)
class FolderDrift:
    """What else an experiment's S3 folder holds besides its runs' artifacts.

    ``orphan_rows`` are ``selectors.orphan_folders`` rows under the folder, biggest
    first, at most ``FOLDER_DRIFT_ROWS``; ``logged_models`` the MLflow 3 logged models
    (``models/m-...``) of the experiment, most bytes first, as many. The totals cover
    everything, shown or not.
    """

    bucket: str
    prefix: str
    orphan_rows: list[dict]
    orphan_folders: int
    orphan_objects: int
    orphan_bytes: int
    logged_models: list[LoggedModel]
    logged_model_count: int
    logged_model_objects: int
    logged_model_bytes: int

    @property
    def more_orphan_folders(self) -> int:
        return self.orphan_folders - len(self.orphan_rows)

    @property
    def more_logged_models(self) -> int:
        return self.logged_model_count - len(self.logged_models)


def experiment_drift(*, experiment: Experiment) -> FolderDrift | None:
    """Orphans and logged models' objects under the experiment's folder: four queries.

    None when the folder is not an ``s3://`` location (``experiment_folder``). The
    totals are queries of their own, always, so the page's query count stays flat.
    """
    folder = experiment_folder(experiment)
    if folder is None:
        return None
    bucket, prefix = folder
    orphan_rows = list(orphan_folders(bucket=bucket, prefix=prefix)[:FOLDER_DRIFT_ROWS])
    orphans = keys_under(present_orphans(), bucket=bucket, prefix=prefix).aggregate(
        n=Count("id"),
        bytes=Coalesce(Sum("size"), 0),
        # Under a folder there is no bucket-top group: each group is one row.
        folders=Count("orphan_folder", distinct=True),
    )
    logged = LoggedModel.objects.filter(experiment=experiment, missing_since=None)
    logged_models = list(
        logged.select_related("run")
        .only("model_id", "name", "artifact_count", "artifact_bytes", "run__run_id", "run__name")
        .order_by("-artifact_bytes", "model_id")[:FOLDER_DRIFT_ROWS]
    )
    logged_totals = logged.aggregate(
        n=Count("id"),
        objects=Coalesce(Sum("artifact_count"), 0),
        bytes=Coalesce(Sum("artifact_bytes"), 0),
    )
    return FolderDrift(
        bucket=bucket,
        prefix=prefix,
        orphan_rows=orphan_rows,
        orphan_folders=orphans["folders"],
        orphan_objects=orphans["n"],
        orphan_bytes=orphans["bytes"],
        logged_models=logged_models,
        logged_model_count=logged_totals["n"],
        logged_model_objects=logged_totals["objects"],
        logged_model_bytes=logged_totals["bytes"],
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
