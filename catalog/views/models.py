"""Registered models: the filterable table, the model page, the version page, categories."""

from __future__ import annotations

from django.http import Http404
from django.views.generic import TemplateView
from django_filters.views import FilterView

from catalog import selectors
from catalog.descriptions import descriptions_of
from catalog.filters import RegisteredModelFilterSet
from catalog.models import Category, ChangeEvent
from catalog.tables import CategoryModelTable, ModelVersionTable, RegisteredModelTable
from catalog.views.changes import history_panel
from catalog.views.exports import CsvExportMixin
from catalog.views.paging import BoundedTableMixin


class ModelListView(CsvExportMixin, BoundedTableMixin, FilterView):
    template_name = "catalog/model_list.html"
    table_class = RegisteredModelTable
    filterset_class = RegisteredModelFilterSet
    table_pagination = {"per_page": 50}
    export_name = "registered-models"

    def get_queryset(self):
        return selectors.registered_model_rows()


class ModelDetailView(CsvExportMixin, BoundedTableMixin, TemplateView):
    """Description, category, tags, aliases, versions, a metric chart, load snippets."""

    template_name = "catalog/model_detail.html"
    query_params = ("metric",)
    table_class = ModelVersionTable
    table_pagination = {"per_page": 50}

    def get_registered_model(self):
        if not hasattr(self, "_registered_model"):
            registered_model = selectors.registered_model_detail(name=self.kwargs["name"])
            if registered_model is None:
                raise Http404("No such registered model")
            self._registered_model = registered_model
        return self._registered_model

    @property
    def export_name(self) -> str:
        return "model-versions"

    def get_table_data(self):
        return selectors.model_versions(registered_model=self.get_registered_model())

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if self.wants_export():
            return context
        registered_model = self.get_registered_model()
        versions_on_page = [row.record for row in context["table"].page.object_list]
        # The version the snippets load: the latest, else the newest one listed.
        latest = next(
            (v for v in versions_on_page if v.version == registered_model.latest_version), None
        )
        if latest is None and registered_model.latest_version is not None:
            latest = selectors.model_version_detail(
                name=registered_model.name, version=registered_model.latest_version
            )
        latest = latest or (versions_on_page[0] if versions_on_page else None)
        snippets = []
        if latest is not None:
            snippets = model_snippets(
                registered_model=registered_model, version=latest, versions_on_page=versions_on_page
            )
        metric_keys = selectors.version_metric_keys(versions=versions_on_page)
        context.update(
            registered_model=registered_model,
            descriptions=descriptions_of(registered_model),
            latest=latest,
            snippets=snippets,
            more_aliases=max(len(registered_model.aliases or {}) - selectors.ALIAS_SNIPPETS, 0),
            metric_keys=metric_keys,
            chart_metric=selectors.pick_metric(
                requested=self.request.GET.get("metric"), available=metric_keys
            ),
            **history_panel(entity_type=ChangeEvent.Entity.REGISTERED_MODEL, obj=registered_model),
        )
        return context


def model_snippets(
    *, registered_model, version, versions_on_page=()
) -> list[selectors.LoadSnippet]:
    """Snippets of the model page: every alias of the model, then ``version``'s own forms.

    Aliases come from the model (alias -> version), so an alias on another version is
    offered too, built from that version's flavors and files (the first
    ``ALIAS_SNIPPETS`` aliases by name). The versions aliased that
    are not among ``versions_on_page`` are read in one query, the flavors of all of them
    in one more.
    """
    aliases = sorted((registered_model.aliases or {}).items())[: selectors.ALIAS_SNIPPETS]
    known = {v.version: v for v in [*versions_on_page, version]}
    numbers = {number for _, number in aliases if isinstance(number, int)} - set(known)
    if numbers:
        known.update(
            (v.version, v)
            for v in selectors.model_versions(registered_model=registered_model).filter(
                version__in=numbers
            )
        )
    targets = {number: known.get(number) for _, number in aliases}
    loaders = selectors.version_loaders([version, *(v for v in targets.values() if v)])
    by_alias = []
    for alias, number in aliases:
        target = targets.get(number)
        by_alias.append(
            selectors.alias_snippet(
                registered_model=registered_model,
                alias=alias,
                number=number,
                version=target,
                loader=loaders[target.pk] if target else selectors.UNKNOWN_LOADER,
            )
        )
    own = selectors.load_snippets(
        version=version,
        registered_model=registered_model,
        include_aliases=False,
        loader=loaders[version.pk],
    )
    return by_alias + own


class ModelVersionDetailView(TemplateView):
    template_name = "catalog/model_version_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        version = selectors.model_version_detail(
            name=self.kwargs["name"], version=self.kwargs["version"]
        )
        if version is None:
            raise Http404("No such model version")
        context.update(
            version=version,
            registered_model=version.registered_model,
            descriptions=descriptions_of(version),
            snippets=selectors.load_snippets(
                version=version, registered_model=version.registered_model
            ),
            more_aliases=max(len(version.aliases or []) - selectors.ALIAS_SNIPPETS, 0),
            **history_panel(entity_type=ChangeEvent.Entity.MODEL_VERSION, obj=version),
        )
        return context


class CategoryListView(CsvExportMixin, TemplateView):
    """Models grouped by category, as the seed's "Model Categories by Type".

    The page shows the first models of each group; its CSV export has every one.
    """

    template_name = "catalog/category_list.html"
    export_name = "model-categories"

    def get_export_table(self, context):
        return CategoryModelTable(selectors.category_model_rows())

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if self.wants_export():
            return context
        context["groups"] = selectors.category_groups()
        context["categories"] = Category
        return context
