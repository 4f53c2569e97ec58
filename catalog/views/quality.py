"""The quality leaderboard: latest versions of every model ranked on one metric.

Every parameter is validated: an unknown ``metric``, a ``threshold`` that is not a
number or a ``category`` that is not one is ignored, and the page says what it used
instead (``ignored``). Preprocessing/utility models are left out unless asked for
(their "metrics" are those of the run they were logged in, another model's), rows
that miss the threshold are greyed below a line, and forecasters get a ranking of
their own on their error metric.
"""

from __future__ import annotations

import math

from django.core.paginator import Paginator
from django.http import QueryDict
from django.views.generic import TemplateView

from catalog import selectors
from catalog.filters import LeaderboardFilterSet
from catalog.tables import LeaderboardTable
from catalog.views.exports import CsvExportMixin
from catalog.views.paging import BoundedTableMixin

MAX_THRESHOLD_CHARS = 32
# How much of an ignored value the page repeats back.
IGNORED_VALUE_SHOWN_CHARS = 80
# The forecasters' ranking beside the main one: its first rows, then a link to all.
FORECAST_ROWS_SHOWN = 10


def parse_threshold(raw: str | None) -> float | None:
    """``"0.9"`` -> 0.9, ``"90%"`` -> 0.9; blank, unparsable, NaN or infinite -> None."""
    if not raw or len(raw) > MAX_THRESHOLD_CHARS:
        return None
    text = raw.strip()
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        return None
    # "nan", "inf" and "1e999" parse; no metric compares with them meaningfully.
    return value if math.isfinite(value) else None


def leaderboard_filter(query: QueryDict) -> tuple[LeaderboardFilterSet, tuple[str, ...] | None]:
    """The category filter of ``query`` and the categories it ranks (None: every one).

    An invalid category ranks as no choice: every category but preprocessing/utility.
    """
    filterset = LeaderboardFilterSet(query)
    value = filterset.form.cleaned_data.get("category", "") if filterset.is_valid() else ""
    return filterset, LeaderboardFilterSet.categories_for(value or "")


def _shown(raw: str) -> str:
    raw = raw.replace("\x00", "")
    if len(raw) > IGNORED_VALUE_SHOWN_CHARS:
        return raw[: IGNORED_VALUE_SHOWN_CHARS - 1] + "…"
    return raw


class CountedPaginator(Paginator):
    """A paginator told its row count: the view has counted the ranking already."""

    def __init__(self, object_list, per_page, *, count: int, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.__dict__["count"] = count  # ``Paginator.count`` is a cached property


class MetricsView(CsvExportMixin, BoundedTableMixin, TemplateView):
    template_name = "catalog/metrics.html"
    query_params = ("metric", "threshold")
    filterset_class = LeaderboardFilterSet  # its fields key the page cache too
    table_class = LeaderboardTable
    table_pagination = {"per_page": 50}
    export_name = "leaderboard"

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.ignored: list[str] = []
        self.filterset, self.categories = leaderboard_filter(request.GET)
        self.category = self.filterset.form.cleaned_data.get("category", "") or ""
        if not self.filterset.is_valid():
            self.category = ""
            self.ignored.append(
                f"Category “{_shown(request.GET.get('category', ''))}” is not a category: "
                "showing every category but preprocessing/utility."
            )
        self.metric_keys = selectors.leaderboard_metric_keys(categories=self.categories)
        requested = request.GET.get("metric")
        self.metric = selectors.pick_metric(requested=requested, available=self.metric_keys)
        if requested and requested != self.metric:
            instead = f"ranked on {self.metric}" if self.metric else "nothing to rank"
            self.ignored.append(
                f"Metric “{_shown(requested)}” is not recorded on these models' source runs: "
                f"{instead} instead."
            )
        raw_threshold = request.GET.get("threshold", "")
        self.threshold = parse_threshold(raw_threshold)
        if raw_threshold.strip() and self.threshold is None:
            self.ignored.append(
                f"Threshold “{_shown(raw_threshold)}” is not a number (e.g. 0.9 or 90%): "
                "no threshold applied."
            )
        self.lower_is_better = bool(self.metric) and selectors.lower_is_better(self.metric)

    def get_table_data(self):
        if self.metric is None:
            return []
        # A page's rows or, for the CSV export, every row (see ``leaderboard_rows``). Rows
        # that miss the threshold stay in the ranking: the table greys them.
        return selectors.leaderboard_rows(
            metric=self.metric, categories=self.categories, every_row=self.wants_export()
        )

    def get_table_pagination(self, table):
        # The CSV export streams every row: no page to count or read.
        if self.wants_export():
            return False
        pagination = dict(super().get_table_pagination(table))
        counts = self.counts()
        if counts is not None:
            # The ranking is counted once, with what the page says about it.
            pagination.update(paginator_class=CountedPaginator, count=counts.ranked)
        return pagination

    def counts(self) -> selectors.LeaderboardCounts | None:
        """The page's counts (``selectors.leaderboard_counts``), read once."""
        if self.metric is None:
            return None
        if not hasattr(self, "_counts"):
            self._counts = selectors.leaderboard_counts(
                metric=self.metric, threshold=self.threshold, categories=self.categories
            )
        return self._counts

    def get_table_kwargs(self):
        return {"threshold": self.threshold, "lower_is_better": self.lower_is_better}

    def _forecast_ranking(self):
        """The forecasters on their error metric, when the page ranks other models."""
        if self.categories == selectors.FORECASTING_CATEGORIES:
            return None, None

        def first_rows(metric: str) -> list:
            # Runs by pk for the shown rows, as the main table's page (ADR 0014).
            rows = selectors.leaderboard_rows(
                metric=metric, categories=selectors.FORECASTING_CATEGORIES
            )
            return list(rows[:FORECAST_ROWS_SHOWN])

        metric, rows = selectors.forecast_ranking(first_rows)
        if metric is None:
            return None, None
        table = LeaderboardTable(rows, lower_is_better=True)
        table.empty_text = "No forecasting model records this metric."
        return metric, table

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if self.wants_export():
            return context
        counts = self.counts()
        # The line above the first row below the threshold says how many there are.
        context["table"].below_count = counts.below if counts else 0
        forecast_metric, forecast_table = self._forecast_ranking()
        context.update(
            filter=self.filterset,
            category=self.category,
            ignored=self.ignored,
            metric_keys=self.metric_keys,
            metric=self.metric,
            threshold=self.threshold,
            threshold_raw=self.request.GET.get("threshold", "")[:MAX_THRESHOLD_CHARS],
            lower_is_better=self.lower_is_better,
            counts=counts,
            forecast_metric=forecast_metric,
            forecast_table=forecast_table,
            forecast_rows_shown=FORECAST_ROWS_SHOWN,
        )
        return context
