"""Reads of the run and logged-model pages."""

from __future__ import annotations

from django.db.models import (
    Count,
    QuerySet,
)

from catalog.models import (
    LoggedModel,
    MetricPoint,
    ModelVersion,
    Run,
)
from catalog.selectors.common import (
    METRIC_KEY_SAMPLE,
    _is_number,
    order_metric_keys,
)


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
