"""Reads of the registered-model and model-version pages (their load snippets: ``snippets``)."""

from __future__ import annotations

from django.db.models import (
    Count,
    OuterRef,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce

from catalog.models import (
    ModelVersion,
    RegisteredModel,
)
from catalog.selectors.common import (
    CHART_MAX_BARS,
    EXPERIMENT_HEAVY_FIELDS,
    _is_number,
    _metric_keys_of,
    effective_category_expression,
)


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
