"""Reads of the home page and the experiment (S3 folder) pages."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import (
    Case,
    Count,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, Length

from catalog.cleanup import prefix_upper_bound
from catalog.models import (
    Experiment,
    LoggedModel,
    ModelVersion,
    RegisteredModel,
    Run,
)
from catalog.selectors.audit import orphan_folders, present_orphans
from catalog.selectors.common import (
    CHART_MAX_BARS,
    EXPERIMENT_NUMERIC_ORDER,
    KEY_MODELS_SHOWN,
    METRIC_KEY_SAMPLE,
    PREFERRED_METRICS,
    _is_number,
    _metric_keys_of,
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


def _quality_score(metrics_field: str) -> Coalesce:
    """The first ``PREFERRED_METRICS`` value a run has, signed so that higher is better.

    Error metrics (rmse, mae, ...) are negated: the score orders models best first
    whichever metric their runs report.
    """
    values = []
    for metric in PREFERRED_METRICS:
        value = Cast(KeyTextTransform(metric, metrics_field), FloatField())
        values.append(Value(-1.0) * value if lower_is_better(metric) else value)
    return Coalesce(*values, output_field=FloatField())


def _key_models() -> QuerySet[RegisteredModel]:
    """An experiment's present models, key ones first (alias, quality, name): correlated."""
    latest_run_quality = ModelVersion.objects.filter(
        registered_model=OuterRef("pk"), version=OuterRef("latest_version")
    ).annotate(score=_quality_score("run__metrics"))
    return (
        RegisteredModel.objects.filter(experiment=OuterRef("pk"), missing_since=None)
        .annotate(
            alias_rank=_alias_rank(),
            quality=Subquery(latest_run_quality.values("score")[:1], output_field=FloatField()),
        )
        .order_by("alias_rank", F("quality").desc(nulls_last=True), "name")
        .values("name")
    )


def _deleted_run_count() -> Coalesce:
    """Present runs of the experiment that MLflow marks deleted: a correlated count."""
    deleted = (
        Run.objects.filter(experiment=OuterRef("pk"), missing_since=None)
        .exclude(lifecycle_stage="active")
        .order_by()
        .values("experiment")
        .annotate(n=Count("id"))
        .values("n")[:1]
    )
    return Coalesce(Subquery(deleted, output_field=IntegerField()), 0)


def experiment_rows() -> QuerySet[Experiment]:
    """Experiments for the quick-reference and folder tables.

    Annotated with ``model_count`` (present registered models made there),
    ``key_model_0`` .. ``key_model_<KEY_MODELS_SHOWN - 1>`` (the first names of those
    models: aliased @production/@champion first, then other aliases, then by the best
    value of a preferred metric of the latest version's run, then by name),
    ``deleted_run_count`` (present runs MLflow marks deleted; ``run_count`` counts them
    too) and ``active_run_count``. The lookups are correlated: evaluated for the page's
    rows, not for every model and run.
    """
    names = _key_models()
    deleted = _deleted_run_count()
    return (
        Experiment.objects.annotate(
            model_count=Count("registered_models", filter=Q(registered_models__missing_since=None)),
            **{
                f"key_model_{index}": Subquery(names[index : index + 1])
                for index in range(KEY_MODELS_SHOWN)
            },
            deleted_run_count=deleted,
            active_run_count=F("run_count") - deleted,
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
    """Catalogue totals from the denormalised counters: four queries.

    The experiments' ``run_count`` counts every present run; the deleted ones are
    counted apart (one pass over the runs: no counter holds them) and taken out.
    """
    present = Experiment.objects.filter(missing_since=None)
    totals = present.aggregate(
        active=Count("id", filter=Q(lifecycle_stage="active")),
        deleted=Count("id", filter=~Q(lifecycle_stage="active")),
        runs=Coalesce(Sum("run_count"), 0),
        artifacts=Coalesce(Sum("artifact_count"), 0),
        bytes=Coalesce(Sum("artifact_bytes"), 0),
    )
    deleted_runs = (
        Run.objects.filter(missing_since=None, experiment__missing_since=None)
        .exclude(lifecycle_stage="active")
        .count()
    )
    locations = present.values_list("artifact_location", flat=True)
    # Distinct buckets: a few per deployment, however many experiments.
    buckets = sorted({bucket_of(location) for location in locations.distinct()[:10_000]} - {""})
    return Overview(
        buckets=buckets,
        experiment_count=totals["active"],
        deleted_experiment_count=totals["deleted"],
        run_count=max(totals["runs"] - deleted_runs, 0),
        deleted_run_count=deleted_runs,
        model_count=RegisteredModel.objects.filter(missing_since=None).count(),
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
    upper = prefix_upper_bound(prefix)
    orphan_rows = list(
        orphan_folders().filter(bucket=bucket, key__gte=prefix, key__lt=upper)[:FOLDER_DRIFT_ROWS]
    )
    orphans = (
        present_orphans()
        .filter(bucket=bucket, key__gte=prefix, key__lt=upper)
        .aggregate(
            n=Count("id"),
            bytes=Coalesce(Sum("size"), 0),
            # Under a folder there is no bucket-top group: each group is one row.
            folders=Count("orphan_folder", distinct=True),
        )
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
