"""The home page: the seed's quick-reference table and overview, live, and the drift."""

from __future__ import annotations

from django.views.generic import TemplateView

from catalog import selectors
from catalog.tables import QuickReferenceTable
from catalog.views.experiments import KeyModelsMixin
from catalog.views.exports import CsvExportMixin
from catalog.views.paging import BoundedTableMixin


class HomeView(KeyModelsMixin, CsvExportMixin, BoundedTableMixin, TemplateView):
    template_name = "catalog/home.html"
    table_class = QuickReferenceTable
    table_pagination = {"per_page": 50}
    export_name = "quick-reference"

    def get_table_data(self):
        return selectors.experiment_rows().filter(missing_since=None, lifecycle_stage="active")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if not self.wants_export():
            context["overview"] = selectors.overview()
            context["drift"] = selectors.drift_summary()
        return context
