"""The quality leaderboard: latest versions of every model ranked on one metric."""

from __future__ import annotations

import math

from django.views.generic import TemplateView

from catalog import selectors
from catalog.tables import LeaderboardTable
from catalog.views.exports import CsvExportMixin
from catalog.views.paging import BoundedTableMixin

MAX_THRESHOLD_CHARS = 32


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


class MetricsView(CsvExportMixin, BoundedTableMixin, TemplateView):
    template_name = "catalog/metrics.html"
    query_params = ("metric", "threshold")
    table_class = LeaderboardTable
    table_pagination = {"per_page": 50}
    export_name = "leaderboard"

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.metric_keys = selectors.leaderboard_metric_keys()
        self.metric = selectors.pick_metric(
            requested=request.GET.get("metric"), available=self.metric_keys
        )
        self.threshold = parse_threshold(request.GET.get("threshold"))

    def get_table_data(self):
        if self.metric is None:
            return []
        # A page's rows or, for the CSV export, every row (see ``leaderboard_rows``).
        return selectors.leaderboard_rows(
            metric=self.metric, threshold=self.threshold, every_row=self.wants_export()
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            metric_keys=self.metric_keys,
            metric=self.metric,
            threshold=self.threshold,
            threshold_raw=self.request.GET.get("threshold", "")[:MAX_THRESHOLD_CHARS],
            lower_is_better=bool(self.metric) and selectors.lower_is_better(self.metric),
        )
        return context
