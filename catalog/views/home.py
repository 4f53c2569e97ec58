"""The home page: the seed's quick-reference table and overview, live, and the drift."""

from __future__ import annotations

from django.utils.functional import cached_property
from django.views.generic import TemplateView

from catalog import selectors
from catalog.tables import QuickReferenceTable
from catalog.views.experiments import KeyModelsMixin
from catalog.views.exports import CsvExportMixin
from catalog.views.paging import BoundedTableMixin, KnownCountPaginator


class HomeView(KeyModelsMixin, CsvExportMixin, BoundedTableMixin, TemplateView):
    template_name = "catalog/home.html"
    table_class = QuickReferenceTable
    table_pagination = {"per_page": 50}
    export_name = "quick-reference"

    def get_table_data(self):
        return selectors.experiment_rows().filter(missing_since=None, lifecycle_stage="active")

    @cached_property
    def overview(self) -> selectors.Overview:
        return selectors.overview()

    def get_table_pagination(self, table):
        # The overview counts the table's rows (active experiments still in MLflow): the
        # paginator takes that count instead of counting them again.
        pagination = super().get_table_pagination(table)
        if self.wants_export() or pagination is False:
            return pagination
        count = self.overview.experiment_count
        return {**pagination, "paginator_class": KnownCountPaginator, "count": count}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if not self.wants_export():
            context["overview"] = self.overview
            context["drift"] = selectors.drift_summary()
        return context
