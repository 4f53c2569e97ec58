"""The "not found" page: says what the catalogue does not hold, and offers a search.

Django's own 404 view says only "Not Found". The catalogue's links are deep links into
mirrored data, so a 404 usually means a run, model or file that MLflow deleted, that
the last sync has not brought in yet, or a mistyped id: the page names it (from the URL
that was resolved, not from the database, so a 404 costs no query of its own) and
offers to search for it. The 400, 403 and 500 pages are Django's views with the
catalogue's templates (``templates/400.html`` ...).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.shortcuts import render
from django.urls import NoReverseMatch, reverse

from catalog.model_urls import model_url

# As the search page, which keeps 200 characters of ``?q=``.
SHOWN_CHARS = 200

# URL name -> (what the page shows, the URL keyword naming it).
DETAIL_PAGES = {
    "experiment_detail": ("experiment", "experiment_id"),
    "run_detail": ("run", "run_id"),
    "logged_model_detail": ("logged model", "model_id"),
    "model_detail": ("registered model", "name"),
}
# Artifact routes (catalog.views.artifacts): "<owner>_<view>", the owner's id keyword.
ARTIFACT_OWNERS = {
    "run": ("run", "run_id", "catalog:run_detail"),
    "logged_model": ("logged model", "model_id", "catalog:logged_model_detail"),
}
# Only the browsing pages: the raw bytes and thumbnail routes also answer 404 for a
# catalogued file (S3 could not be read, no thumbnail for its type), which "the
# catalogue has no artifact" would misreport; they get the plain message.
ARTIFACT_VIEWS = ("artifacts", "artifact")


@dataclass(frozen=True, slots=True)
class Missing:
    """What a 404 did not find: "no <kind> <identifier> [in <within_kind> <within_id>]"."""

    kind: str
    identifier: str
    search: str
    within_kind: str = ""
    within_identifier: str = ""
    within_url: str = ""


def _shown(text) -> str:
    text = str(text)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def _searched(text) -> str:
    # Cut as the search page cuts ``?q=``, without a mark that would then be searched for.
    return str(text)[:SHOWN_CHARS]


def missing_thing(resolver_match) -> Missing | None:
    """What the resolved URL named, or None for a URL that matched no catalogue page."""
    if resolver_match is None or resolver_match.namespace != "catalog":
        return None
    url_name, kwargs = resolver_match.url_name, resolver_match.kwargs
    if url_name in DETAIL_PAGES:
        kind, keyword = DETAIL_PAGES[url_name]
        identifier = kwargs.get(keyword, "")
        return Missing(kind=kind, identifier=_shown(identifier), search=_searched(identifier))
    if url_name == "model_version_detail":
        name = kwargs.get("name", "")
        return Missing(
            kind="version",
            identifier=str(kwargs.get("version", "")),
            search=_searched(name),
            within_kind="registered model",
            within_identifier=_shown(name),
            within_url=model_url(str(kwargs.get("name", ""))),
        )
    owner, _, view = (url_name or "").rpartition("_artifact")
    if owner in ARTIFACT_OWNERS and f"artifact{view}" in ARTIFACT_VIEWS:
        owner_kind, keyword, owner_url_name = ARTIFACT_OWNERS[owner]
        owner_id = str(kwargs.get(keyword, ""))
        path = kwargs.get("path", "")  # the route is <artifact_path:path>
        try:
            owner_url = reverse(owner_url_name, args=[owner_id])
        except NoReverseMatch:
            owner_url = ""
        if not path:  # the folder page of an owner the catalogue does not hold
            return Missing(kind=owner_kind, identifier=_shown(owner_id), search=_searched(owner_id))
        return Missing(
            kind="artifact or folder",
            identifier=_shown(path),
            search=_searched(path),
            within_kind=owner_kind,
            within_identifier=_shown(owner_id),
            within_url=owner_url,
        )
    return None


def page_not_found(request, exception):
    """The 404 page (``handler404``), in the site's layout, with a search for what was asked."""
    missing = missing_thing(getattr(request, "resolver_match", None))
    context = {
        "missing": missing,
        "request_path": _shown(request.path),
        # Fills the header's search box too (base.html reads ``query``).
        "query": missing.search if missing else "",
    }
    return render(request, "404.html", context, status=404)
