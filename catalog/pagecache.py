"""The rendered-page cache: catalogue pages kept by the data version they were drawn from.

Between syncs the pages are a pure function of the database, so a page rendered once is
served again until the data changes. ``cached_page`` wraps a view (``catalog/urls.py``):

- Key: a digest of the data version (``selectors.data_version``: the newest SyncRun's
  id, status and times, and the newest admin LogEntry), ``is_staff``, the host, the
  path, and the query parameters the view reads, in a canonical order (table
  parameters normalised: ``page=01`` is ``page=1``). New data is a new key: nothing
  to invalidate.
- Query parameters: each view's are derived (``view_query_params``: its filter set's
  fields, ``page``/``per_page``/``sort`` for a table view, and the names it declares
  in ``query_params``). A request's other parameters (``?utm_source=``, ``?x=1``) are
  dropped before the view runs: the page is rendered, keyed and served as if they were
  absent, so junk variants of a page share one entry.
  ``CATALOG_PAGE_CACHE_SECONDS`` bounds the staleness of what the version does not see
  (relative times, rows edited outside the admin); 0 turns the cache off.
- Only GET/HEAD of a logged-in user, never ``?_export=``; only a 200, non-streaming
  response that sets no cookie, does not say ``Cache-Control: no-store`` and is at most
  ``CATALOG_PAGE_CACHE_MAX_PAGE_BYTES`` long.
- Hole punching: while a page is rendered for the cache, ``{% page_cache_hole %}`` in
  ``base.html`` writes a marker instead of the per-user header part (user name, logout
  form with its CSRF token, "synced N min ago"). The body is stored with the marker; on
  every answer, hit or miss, that part is rendered for this request and spliced in. A
  hit never runs the view: it costs the session and user reads and the version query,
  which the header's "synced" line shares. A page body may hold named holes too
  (``{% page_cache_hole "changes_since_visit" %}``, the home page's "what changed since
  your last visit"): each name in ``HOLES`` is one template, rendered per request alike.

The bodies live in the ``pages`` cache alias: a per-process ``BytesBoundedLocMemCache``
(``catalog.bounded_cache``) that keeps at most ``CATALOG_PAGE_CACHE_MAX_BYTES`` and drops
the least recently used pages beyond (the version in the key keeps processes
consistent). See docs/decisions/0005-page-cache.md.
"""

from __future__ import annotations

import functools
import hashlib

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse, QueryDict
from django.template.loader import render_to_string
from django_tables2 import SingleTableMixin

from catalog import selectors
from catalog.views.paging import TABLE_QUERY_PARAMS, normalised_query_value

CACHE_ALIAS = "pages"
# The CSV export parameter (``catalog.views.exports``): an export is never cached.
EXPORT_PARAM = "_export"
# Comments never come from data: text is escaped ("<" becomes "&lt;") and Markdown goes
# through nh3, which drops comments. The header precedes any content anyway, and only the
# first marker is replaced.
HOLE_MARKER = "<!--catalog:page-cache-hole-->"
HOLE_TEMPLATE = "catalog/partials/user_header.html"
# Every hole a page may hold, by name ("" is the header's): each is rendered for the
# request alone, with the request context only (never a view's context).
HOLES = {
    "": HOLE_TEMPLATE,
    "changes_since_visit": "catalog/partials/changes_since_visit.html",
}
STATUS_HEADER = "X-Page-Cache"
_RENDERING_FOR_CACHE = "_catalog_page_cache_hole"
# What a function view reads when it declares nothing (the artifact folder's ``page``).
DEFAULT_QUERY_PARAMS = ("page",)
DEFAULT_MAX_PAGE_BYTES = 2 * 1024 * 1024


def page_cache_seconds() -> int:
    """``settings.CATALOG_PAGE_CACHE_SECONDS``: how long a page may be served; 0 is off."""
    return int(getattr(settings, "CATALOG_PAGE_CACHE_SECONDS", 0) or 0)


def page_cache_max_page_bytes() -> int:
    """``settings.CATALOG_PAGE_CACHE_MAX_PAGE_BYTES``: a longer page is not cached."""
    return int(getattr(settings, "CATALOG_PAGE_CACHE_MAX_PAGE_BYTES", DEFAULT_MAX_PAGE_BYTES))


def view_query_params(view) -> frozenset[str]:
    """The query parameters ``view`` reads: the only ones its cached pages are keyed by.

    A class-based view (``as_view()`` keeps it as ``view_class``) gets its filter set's
    fields, the table parameters when it shows a table, and its ``query_params``; a
    function view its ``query_params`` attribute, else ``DEFAULT_QUERY_PARAMS``.
    """
    view_class = getattr(view, "view_class", None)
    if view_class is None:
        return frozenset(getattr(view, "query_params", DEFAULT_QUERY_PARAMS))
    names = set(getattr(view_class, "query_params", ()))
    filterset_class = getattr(view_class, "filterset_class", None)
    if filterset_class is not None:
        names.update(filterset_class.base_filters)
    if issubclass(view_class, SingleTableMixin):
        names.update(TABLE_QUERY_PARAMS)
    return frozenset(names)


def canonical_query(query: QueryDict, *, allowed: frozenset[str]) -> QueryDict:
    """``query`` with only the ``allowed`` names, normalised, in sorted order."""
    kept = QueryDict(mutable=True)
    for name in sorted(allowed):
        values = normalised_query_value(name, query.getlist(name))
        if values:
            kept.setlist(name, values)
    kept._mutable = False
    return kept


def page_key(request: HttpRequest, *, version: selectors.DataVersion) -> str:
    """The cache key of this request's page at this data version.

    ``request.GET`` is expected to be canonical already (``canonical_query``).
    """
    parts = (
        version.token,
        "staff" if request.user.is_staff else "reader",
        request.get_host(),
        request.path,
        request.GET.urlencode(),
    )
    digest = hashlib.sha256("\n".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return f"page:{digest}"


def is_rendering_for_cache(request: HttpRequest | None) -> bool:
    """True while ``cached_page`` renders a page whose per-user part is left as a hole."""
    return bool(request is not None and getattr(request, _RENDERING_FOR_CACHE, False))


def hole_marker(name: str = "") -> str:
    """What a page rendered for the cache holds in place of the hole ``name``."""
    return HOLE_MARKER if not name else f"<!--catalog:page-cache-hole:{name}-->"


def render_hole(request: HttpRequest, name: str = "") -> str:
    """The per-user part ``name`` (the header's by default), rendered for ``request`` alone."""
    return render_to_string(HOLES[name], request=request)


def _wants_cache(request: HttpRequest) -> bool:
    return (
        request.method in ("GET", "HEAD")
        and request.user.is_authenticated
        and EXPORT_PARAM not in request.GET
    )


def _may_store(response: HttpResponse) -> bool:
    cache_control = response.get("Cache-Control", "").lower()
    return (
        response.status_code == 200
        and not response.streaming
        and not response.cookies
        and "no-store" not in cache_control
        and len(response.content) <= page_cache_max_page_bytes()
    )


def _spliced(body: bytes, request: HttpRequest, *, charset: str) -> bytes:
    for name in HOLES:
        marker = hole_marker(name).encode(charset)
        if marker in body:
            body = body.replace(marker, render_hole(request, name).encode(charset), 1)
    return body


def cached_page(view):
    """Serve ``view``'s page from the page cache while the catalogue's data is unchanged.

    Query parameters the view does not read (``view_query_params``) are dropped first.
    """
    allowed = view_query_params(view)

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        seconds = page_cache_seconds()
        if seconds <= 0 or not _wants_cache(request):
            return view(request, *args, **kwargs)
        request.GET = canonical_query(request.GET, allowed=allowed)
        key = page_key(request, version=selectors.request_data_version(request))
        cache = caches[CACHE_ALIAS]
        entry = cache.get(key)
        if entry is not None:
            body, headers, charset = entry
            response = HttpResponse(_spliced(body, request, charset=charset), headers=headers)
            response[STATUS_HEADER] = "hit"
            return response
        setattr(request, _RENDERING_FOR_CACHE, True)
        try:
            response = view(request, *args, **kwargs)
            if callable(getattr(response, "render", None)):
                response = response.render()
        finally:
            setattr(request, _RENDERING_FOR_CACHE, False)
        if response.streaming:
            return response
        if _may_store(response):
            headers = {name: value for name, value in response.items()}
            cache.set(key, (response.content, headers, response.charset), seconds)
            response[STATUS_HEADER] = "miss"
        response.content = _spliced(response.content, request, charset=response.charset)
        return response

    return wrapper
