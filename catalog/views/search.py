"""``/search/?q=``: experiments, runs, models and artifacts by name, id, key or tag."""

from __future__ import annotations

from django.views.generic import TemplateView

from catalog import selectors

MAX_QUERY_CHARS = 200


class SearchView(TemplateView):
    template_name = "catalog/search.html"
    query_params = ("q",)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # NUL cannot be stored in (or compared with) a PostgreSQL text column.
        query = self.request.GET.get("q", "")[:MAX_QUERY_CHARS].replace("\x00", "")
        context["query"] = query
        context["results"] = selectors.search(query=query) if query.strip() else None
        return context
