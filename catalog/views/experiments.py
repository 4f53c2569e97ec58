"""The experiment (S3 folder) list and folder pages."""

from __future__ import annotations

from django.http import Http404
from django_filters.views import FilterView

from catalog import selectors
from catalog.descriptions import descriptions_of
from catalog.filters import ExperimentFilterSet, RunFilterSet
from catalog.models import ChangeEvent, Experiment
from catalog.tables import (
    ExperimentTable,
    RegisteredModelTable,
    RunTable,
    orphan_row_name,
    orphan_row_url,
)
from catalog.views.changes import history_panel
from catalog.views.exports import CsvExportMixin
from catalog.views.paging import BoundedTableMixin

MODELS_ON_FOLDER_PAGE = 50


class KeyModelsMixin:
    """Experiment tables' key models, read in one query for the rows shown (or exported).

    Used before ``CsvExportMixin``/``BoundedTableMixin``: the page's rows, once paged,
    get ``key_models`` (``selectors.attach_key_models``); an export gets them for every
    row, in the table's order.
    """

    def get_table(self, **kwargs):
        table = super().get_table(**kwargs)
        page = getattr(table, "page", None)
        if page is not None and not self.wants_export():
            # The page's rows are read once and kept: the records marked here are rendered.
            selectors.attach_key_models(row.record for row in page.object_list)
        return table

    def export_table(self, table):
        table.data.data = selectors.attach_key_models(table.data.data)
        return super().export_table(table)


class ExperimentListView(KeyModelsMixin, CsvExportMixin, BoundedTableMixin, FilterView):
    template_name = "catalog/experiment_list.html"
    table_class = ExperimentTable
    filterset_class = ExperimentFilterSet
    table_pagination = {"per_page": 50}
    export_name = "experiments"

    def get_queryset(self):
        return selectors.experiment_rows()


class ExperimentDetailView(CsvExportMixin, BoundedTableMixin, FilterView):
    """One folder: purpose, S3 prefix, its runs (filterable), its models, a run chart."""

    template_name = "catalog/experiment_detail.html"
    query_params = ("metric",)
    table_class = RunTable
    filterset_class = RunFilterSet
    table_pagination = {"per_page": 50}

    def get_experiment(self) -> Experiment:
        """The experiment with its active and deleted run counts, or 404."""
        if not hasattr(self, "_experiment"):
            experiment = selectors.experiment_detail(experiment_id=self.kwargs["experiment_id"])
            if experiment is None:
                raise Http404("No such experiment")
            self._experiment = experiment
        return self._experiment

    @property
    def export_name(self) -> str:
        return f"experiment-{self.get_experiment().experiment_id}-runs"

    def get_queryset(self):
        return selectors.experiment_runs(experiment=self.get_experiment())

    def get_table_kwargs(self):
        kwargs = super().get_table_kwargs()
        # "No runs in this experiment" would be untrue when the filters hid them.
        if any(self.request.GET.get(name) for name in self.filterset_class.base_filters):
            kwargs["empty_text"] = "No runs in this experiment match these filters."
        return kwargs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if self.wants_export():
            return context
        experiment = self.get_experiment()
        models = list(selectors.experiment_models(experiment=experiment)[:MODELS_ON_FOLDER_PAGE])
        metric_keys = selectors.experiment_metric_keys(experiment=experiment)
        drift = selectors.experiment_drift(experiment=experiment)
        for row in drift.orphan_rows if drift else ():
            row.update(url=orphan_row_url(row), name=orphan_row_name(row))
        context.update(
            experiment=experiment,
            descriptions=descriptions_of(experiment),
            models_table=RegisteredModelTable(
                models, orderable=False, exclude=("experiment", "tags", "missing_since")
            ),
            model_count=len(models),
            drift=drift,
            metric_keys=metric_keys,
            chart_metric=selectors.pick_metric(
                requested=self.request.GET.get("metric"), available=metric_keys
            ),
            **history_panel(entity_type=ChangeEvent.Entity.EXPERIMENT, obj=experiment),
        )
        return context
