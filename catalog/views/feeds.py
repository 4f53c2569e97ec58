"""Atom feeds of the change timeline, and the reader's page that gives out their URL.

``/changes/feed/<key>/`` takes the timeline's query parameters (``ChangeEventFilterSet``:
``entity, kind, experiment, model, sync, since, until``); a value the filter set refuses
is ignored, never an error. Feed readers cannot log in, so the key in the path is the
reader's ``FeedToken``: an unknown, revoked or inactive user's key is a 404. The feed is
never in the page cache: it is per key, and it is not a page of the site.

``/account/feed/`` shows the signed-in reader their feed URL (optionally with the
timeline's filters) and makes a new key on a POST, which replaces the old one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.syndication.views import Feed
from django.http import Http404, HttpRequest, HttpResponse
from django.http.request import split_domain_port
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.feedgenerator import Atom1Feed
from django.utils.html import escape
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from catalog.change_links import event_url
from catalog.feed_tokens import feed_token_for_key, note_feed_use, replace_feed_token
from catalog.filters import ChangeEventFilterSet
from catalog.models import ChangeEvent, FeedToken

# Feed readers keep what they saw; a feed needs only the newest entries.
FEED_MAX_ENTRIES = 50
TITLE_MAX_CHARS = 300
# An event's changes, in words, under its title: the first fields, each value cut short.
DESCRIPTION_MAX_FIELDS = 20
DESCRIPTION_VALUE_MAX_CHARS = 120
# XML 1.0 has no place for these; Django's feed writer refuses them (a 500) and names
# from MLflow may hold them.
_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def feed_text(value, *, limit: int) -> str:
    """``value`` as text an XML 1.0 document can carry, cut to ``limit`` characters."""
    text = _XML_UNSAFE.sub("", str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def timeline_url(query: dict[str, str] | None = None) -> str:
    """The ``/changes/`` timeline's path, with ``query`` (filter values) when given."""
    path = reverse("catalog:changes")
    return f"{path}?{urlencode(query)}" if query else path


@dataclass
class FeedRequest:
    """What one feed request asks for: the reader's filters and their valid values."""

    filters: ChangeEventFilterSet
    query: dict[str, str] = field(default_factory=dict)
    host: str = ""


class ChangeFeed(Feed):
    """The newest change events matching the timeline filters in the query, as Atom."""

    feed_type = Atom1Feed
    item_guid_is_permalink = False

    def get_object(self, request: HttpRequest, key: str) -> FeedRequest:
        token = feed_token_for_key(key)
        if token is None:
            raise Http404("No such feed.")
        note_feed_use(token)
        filters = ChangeEventFilterSet(request.GET, queryset=ChangeEvent.objects.all())
        return FeedRequest(
            filters=filters,
            query=filters.valid_values(),
            host=split_domain_port(request.get_host())[0].strip("[]"),
        )

    def __call__(self, request, *args, **kwargs) -> HttpResponse:
        response = super().__call__(request, *args, **kwargs)
        # The URL is a secret of its reader's: no shared cache keeps the answer.
        patch_cache_control(response, private=True, max_age=0)
        return response

    def title(self, obj: FeedRequest) -> str:
        described = ", ".join(f"{name} {value}" for name, value in obj.query.items())
        title = "SmartMaint catalogue: changes" + (f" ({described})" if described else "")
        return feed_text(title, limit=TITLE_MAX_CHARS)

    def subtitle(self, obj: FeedRequest) -> str:
        return "What each sync of the catalogue saw change in MLflow and S3."

    def link(self, obj: FeedRequest) -> str:
        return timeline_url(obj.query)

    def items(self, obj: FeedRequest) -> list[ChangeEvent]:
        events = list(obj.filters.qs.order_by("-pk")[:FEED_MAX_ENTRIES])
        for event in events:  # the one feed instance serves every request: no state on it
            event.feed_host = obj.host
        return events

    def item_title(self, item: ChangeEvent) -> str:
        return feed_text(item.summary or str(item), limit=TITLE_MAX_CHARS)

    def item_description(self, item: ChangeEvent) -> str:
        # Atom's summary is HTML to a feed reader: every word from the sources is escaped.
        lines = [escape(feed_text(item.summary or str(item), limit=TITLE_MAX_CHARS))]
        lines += [escape(line) for line in changes_in_words(item.changes)]
        return "<br>".join(lines)

    def item_link(self, item: ChangeEvent) -> str:
        return event_url(item) or timeline_url({"sync": str(item.sync_run_id or "")})

    def item_guid(self, item: ChangeEvent) -> str:
        # A tag URI (RFC 4151): the same event keeps its id whatever its link.
        return f"tag:{item.feed_host or 'catalog'},2026:catalog-change/{item.pk}"

    def item_updateddate(self, item: ChangeEvent):
        return item.occurred_at

    def item_pubdate(self, item: ChangeEvent):
        return item.occurred_at

    def item_categories(self, item: ChangeEvent) -> tuple[str, ...]:
        return (item.kind, item.entity_type)


def changes_in_words(changes) -> list[str]:
    """``{"field": [old, new]}`` as "field: old -> new" lines, few and short."""
    if not isinstance(changes, dict):
        return []
    lines = []
    for name, value in list(changes.items())[:DESCRIPTION_MAX_FIELDS]:
        if isinstance(value, list) and len(value) == 2:
            old, new = (_short(part) for part in value)
            lines.append(f"{feed_text(name, limit=80)}: {old} -> {new}")
        else:
            lines.append(f"{feed_text(name, limit=80)}: {_short(value)}")
    if len(changes) > DESCRIPTION_MAX_FIELDS:
        lines.append(f"and {len(changes) - DESCRIPTION_MAX_FIELDS} more")
    return lines


def _short(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return feed_text(text, limit=DESCRIPTION_VALUE_MAX_CHARS)


change_feed = login_not_required(ChangeFeed())


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def feed_account(request: HttpRequest) -> HttpResponse:
    """The reader's feed URL (with the timeline filters given in the query), and a new key.

    A POST makes a new key, which replaces the old one: every feed reader holding the
    old URL gets a 404 from then on. Never cached: the key is this reader's secret.
    """
    if request.method == "POST":
        replace_feed_token(user=request.user)
        messages.success(request, "Your feed URL is new: the old one no longer works.")
        return redirect(request.get_full_path())
    token = FeedToken.objects.filter(user=request.user).first()
    filters = ChangeEventFilterSet(request.GET or None, queryset=ChangeEvent.objects.none())
    query = filters.valid_values()
    feed_url = None
    if token is not None:
        path = reverse("catalog:change_feed", args=[token.key])
        feed_url = request.build_absolute_uri(path + (f"?{urlencode(query)}" if query else ""))
    return render(
        request,
        "catalog/feed_account.html",
        {"token": token, "feed_url": feed_url, "filter": filters, "filter_values": query},
    )
