"""Chart images: PNGs drawn by catalog.charts, cached by the digest of their data.

Each view reads its numbers with one bounded query, then serves the cached PNG for
exactly those numbers (or draws it once). ``?size=`` picks one of
``charts.CHART_SIZES`` (the pages link each chart to its "large" render); any other
value is the default size, so it never makes a cache entry of its own.
"""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404

from catalog import charts, selectors
from catalog.models import Experiment, RegisteredModel, Run
from catalog.views.quality import leaderboard_filter, parse_threshold

MAX_METRIC_CHARS = 250


def _png_response(png: bytes) -> HttpResponse:
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, max-age=300"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _metric(request) -> str:
    metric = request.GET.get("metric", "")
    if not metric or len(metric) > MAX_METRIC_CHARS or "\x00" in metric:
        raise Http404("Name a metric")
    return metric


def _size(request) -> str:
    return charts.chart_size(request.GET.get("size"))


def _bar(
    *, kind: str, values, metric: str, size: str, threshold=None, title: str = ""
) -> HttpResponse:
    lower = selectors.lower_is_better(metric)
    data = {
        "values": values,
        "metric": metric,
        "threshold": threshold,
        "title": title,
        "lower": lower,
    }
    png = charts.cached_png(
        kind=kind,
        data=data,
        size=size,
        render=lambda: charts.bar_chart_png(
            labels=[label for label, _ in values],
            values=[value for _, value in values],
            metric=metric,
            threshold=threshold,
            title=title,
            lower_is_better=lower,
            size=size,
        ),
    )
    return _png_response(png)


def experiment_runs_chart(request, experiment_id: str):
    """The experiment's runs compared on ``?metric=``."""
    experiment = get_object_or_404(Experiment, experiment_id=experiment_id)
    metric = _metric(request)
    values = selectors.run_metric_values(experiment=experiment, metric=metric)
    return _bar(
        kind="experiment-runs",
        values=values,
        metric=metric,
        size=_size(request),
        title=experiment.name,
    )


def run_history_chart(request, run_id: str):
    """One metric's history (``?metric=``) of one run."""
    run = get_object_or_404(Run, run_id=run_id)
    metric = _metric(request)
    points = selectors.run_metric_series(run=run, key=metric)
    size = _size(request)
    png = charts.cached_png(
        kind="run-history",
        data={"points": points, "metric": metric},
        size=size,
        render=lambda: charts.line_chart_png(points=points, metric=metric, size=size),
    )
    return _png_response(png)


def model_versions_chart(request, name: str):
    """``?metric=`` of each version's source run, across the model's versions."""
    registered_model = get_object_or_404(RegisteredModel, name=name)
    metric = _metric(request)
    values = selectors.version_metric_values(registered_model=registered_model, metric=metric)
    return _bar(
        kind="model-versions",
        values=values,
        metric=metric,
        size=_size(request),
        title=registered_model.name,
    )


def leaderboard_chart(request):
    """The top of the leaderboard for ``?metric=``, ``?threshold=`` and ``?category=``.

    The same models as the page: preprocessing/utility models only when the category
    asks for them, and those below the threshold drawn beside those that pass it.
    """
    metric = _metric(request)
    threshold = parse_threshold(request.GET.get("threshold"))
    _, categories = leaderboard_filter(request.GET)
    values = selectors.leaderboard_values(metric=metric, categories=categories)
    return _bar(
        kind="leaderboard",
        values=values,
        metric=metric,
        size=_size(request),
        threshold=threshold,
    )
