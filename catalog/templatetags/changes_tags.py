"""``{% changes_since_visit as block %}``: the home page's "what changed since your last
visit", computed for the request's reader.

Used only inside the ``changes_since_visit`` page-cache hole (``catalog.pagecache``): the
block is rendered afresh for each request, never stored with the cached page, so one
reader never sees another's counts or dates.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django import template
from django.core.cache import caches
from django.urls import reverse
from django.utils import timezone

from catalog import selectors

register = template.Library()
# How long counts are kept for one data version (a new sync is a new key anyway).
COUNTS_KEPT_SECONDS = 300


@dataclass(frozen=True)
class SinceVisitBlock:
    """The block's content: the moment counted from, and the counts per kind."""

    since: datetime
    from_last_visit: bool
    kinds: list[tuple[selectors.KindCount, str]]  # each count with its timeline link
    capped: bool
    timeline_url: str


def since_url(*, since: datetime, kind: str | None = None) -> str:
    """The timeline from ``since`` (to the second), of one ``kind`` when given."""
    query = {"since": since.replace(microsecond=0).isoformat()}
    if kind:
        query["kind"] = kind
    return f"{reverse('catalog:changes')}?{urlencode(query)}"


def counts_since(request, *, since: datetime):
    """``selectors.changes_by_kind(since=...)``, kept by data version and moment: a reader
    within one visit (the same ``since``) is counted once per sync, not per view."""
    token = selectors.request_data_version(request).token
    digest = hashlib.sha256(f"{token}\n{since.isoformat()}".encode()).hexdigest()
    key = f"changes-since:{digest}"
    cache = caches["default"]
    found = cache.get(key)
    if found is None:
        found = selectors.changes_by_kind(since=since)
        cache.set(key, found, COUNTS_KEPT_SECONDS)
    return found


@register.simple_tag(takes_context=True)
def changes_since_visit(context) -> SinceVisitBlock | None:
    """Record this home page view as the reader's visit; the block for it (None when
    nobody is signed in)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    visit = selectors.record_home_visit(user=user, now=timezone.now())
    since = visit.since.replace(microsecond=0)
    if not visit.from_last_visit:
        # "The last 24 hours" from the hour: readers of that hour share one count.
        since = since.replace(minute=0, second=0)
    counts, capped = counts_since(request, since=since)
    return SinceVisitBlock(
        since=since,
        from_last_visit=visit.from_last_visit,
        kinds=[(row, since_url(since=since, kind=row.kind)) for row in counts],
        capped=capped,
        timeline_url=since_url(since=since),
    )
