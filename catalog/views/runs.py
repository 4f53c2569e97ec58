"""The run page and the MLflow 3 logged-model page."""

from __future__ import annotations

from django.http import Http404
from django.views.generic import TemplateView

from catalog import selectors
from catalog.descriptions import descriptions_of
from catalog.models import ChangeEvent
from catalog.tables import RunModelVersionTable
from catalog.views.changes import history_panel


class RunDetailView(TemplateView):
    """Params, latest metrics, tags, metric-history charts, models produced (with load
    snippets for each model folder), artifacts."""

    template_name = "catalog/run_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        run = selectors.run_detail(run_id=self.kwargs["run_id"])
        if run is None:
            raise Http404("No such run")
        versions = list(selectors.run_model_versions(run=run)[:100])
        context.update(
            run=run,
            descriptions=descriptions_of(run),
            experiment=run.experiment,
            versions_table=RunModelVersionTable(versions, orderable=False) if versions else None,
            logged_models=list(selectors.run_logged_models(run=run)[:100]),
            snippets=selectors.run_snippets(run=run, versions=versions),
            history_keys=selectors.run_history_keys(run=run)[: selectors.CHART_MAX_BARS],
            **history_panel(entity_type=ChangeEvent.Entity.RUN, obj=run),
        )
        return context


class LoggedModelDetailView(TemplateView):
    """An MLflow 3 logged model: its run, params, metrics, versions, load snippets, artifacts."""

    template_name = "catalog/logged_model_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        logged_model = selectors.logged_model_detail(model_id=self.kwargs["model_id"])
        if logged_model is None:
            raise Http404("No such logged model")
        versions = list(
            logged_model.model_versions.select_related("registered_model").order_by(
                "registered_model__name", "-version"
            )[:100]
        )
        context.update(
            logged_model=logged_model,
            descriptions=descriptions_of(logged_model),
            experiment=logged_model.experiment,
            versions_table=RunModelVersionTable(versions, orderable=False) if versions else None,
            snippets=selectors.logged_model_snippets(logged_model=logged_model),
            **history_panel(entity_type=ChangeEvent.Entity.LOGGED_MODEL, obj=logged_model),
        )
        return context
