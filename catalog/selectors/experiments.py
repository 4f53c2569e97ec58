"""Reads of the home page and the experiment (S3 folder) pages."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import (
    Count,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce, Length

from catalog.models import (
    Experiment,
    RegisteredModel,
    Run,
)
from catalog.selectors.common import (
    CHART_MAX_BARS,
    EXPERIMENT_NUMERIC_ORDER,
    KEY_MODELS_SHOWN,
    METRIC_KEY_SAMPLE,
    _is_number,
    _metric_keys_of,
)
from catalog.selectors.models import registered_model_rows


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
