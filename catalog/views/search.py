"""``/search/?q=``: pasted URIs and ids go straight to their page; words search everything.

A query that is an ``s3://``, ``models:/``, ``runs:/`` or ``mlflow-artifacts:/`` URI,
or a full run or logged-model id, is resolved first (``catalog.uri_resolution``): when
it names exactly one catalogued thing the page redirects there; when it names nothing,
the page says so, links the nearest thing that exists and shows related results.
Anything else is a word search (``catalog.selectors.search``).
"""

from __future__ import annotations

from django.http import HttpResponseRedirect
from django.views.generic import TemplateView

from catalog import selectors
from catalog.uri_resolution import resolve_pasted

# Room for a pasted s3:// URI of the longest key S3 allows (1,024 bytes, 63-character
# bucket); longer text is cut, and the page says so.
MAX_QUERY_CHARS = 1100


def bounded_query(raw: str) -> tuple[str, bool]:
    """The query as searched (at most ``MAX_QUERY_CHARS``, no NUL) and whether it was cut."""
    # NUL cannot be stored in (or compared with) a PostgreSQL text column.
    query = raw.replace("\x00", "")
    return query[:MAX_QUERY_CHARS], len(query) > MAX_QUERY_CHARS


class SearchView(TemplateView):
    template_name = "catalog/search.html"
    query_params = ("q",)

    def get(self, request, *args, **kwargs):
        query, cut = bounded_query(request.GET.get("q", ""))
        resolution = resolve_pasted(query) if query.strip() and not cut else None
        if resolution is not None and resolution.exact and resolution.url:
            return HttpResponseRedirect(resolution.url)
        context = self.get_context_data(query=query, query_cut=cut, resolution=resolution)
        return self.render_to_response(context)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        query, resolution = context["query"], context["resolution"]
        context["max_query_chars"] = MAX_QUERY_CHARS
        if resolution is not None:
            related = resolution.related_query
            context["results"] = selectors.search(query=related) if related.strip() else None
        elif query.strip():
            context["results"] = selectors.search(query=query)
        else:
            context["results"] = None
            context["examples"] = selectors.search_examples()
        return context
