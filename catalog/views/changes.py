"""The change timeline (``/changes/``): what the syncs saw change, newest first.

Filtered by ``ChangeEventFilterSet`` (an invalid value is named on the page and
ignored), grouped under a heading per sync, paged by key (``?before=<id>`` for older
events, ``?after=<id>`` for newer ones: a deep page costs what the first one does, where
``?page=`` would skip through every newer event), ``?per_page=`` clamped as on every
table page. ``?_export=csv`` streams every filtered event.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse
from django.views.generic import TemplateView

from catalog import selectors
from catalog.filters import ChangeEventFilterSet
from catalog.models import ChangeEvent
from catalog.tables import ChangeEventTable, change_event_csv_rows
from catalog.views.exports import CsvExportMixin, stream_csv
from catalog.views.paging import (
    CURSOR_PARAMS,
    PER_PAGE_PARAM,
    clamp_per_page,
    cursor_value,
)

TIMELINE_PER_PAGE = 50
# How much of an ignored value the page repeats back.
IGNORED_VALUE_SHOWN_CHARS = 80
# The export reads the events in chunks: a million of them never sit in memory at once.
EXPORT_CHUNK_ROWS = 2000


def shown_value(raw: str) -> str:
    """A query value as the page may repeat it: no NUL, at most a line's length."""
    raw = raw.replace("\x00", "")
    if len(raw) > IGNORED_VALUE_SHOWN_CHARS:
        return raw[: IGNORED_VALUE_SHOWN_CHARS - 1] + "…"
    return raw


# What each filter expects, for the note on a value it cannot take. (Django's own
# messages may repeat the whole value; the note repeats it once, cut.)
FILTER_EXPECTS = {
    "entity": "an entity type of the list",
    "kind": "a kind of change of the list",
    "sync": "a sync's number",
    "version": "a version number",
    "since": "a date (YYYY-MM-DD) or an ISO 8601 date and time",
    "until": "a date (YYYY-MM-DD)",
}


def ignored_filters(filterset: ChangeEventFilterSet) -> list[str]:
    """A note per filter value the page ignores, in the form's order."""
    notes = []
    for name in filterset.errors:
        label = filterset.filters[name].label or name
        value = shown_value(filterset.data.get(name, ""))
        expects = FILTER_EXPECTS.get(name, "a valid value")
        notes.append(f"{label} “{value}” ignored: expected {expects}.")
    cleaned = filterset.form.cleaned_data if filterset.is_bound else {}
    if cleaned.get("version") is not None and not cleaned.get("model"):
        notes.append("Version ignored: a version number needs the model name too.")
    return notes


class ChangeTimelineView(CsvExportMixin, TemplateView):
    """Every change event the syncs recorded, filterable, grouped by sync."""

    template_name = "catalog/changes.html"
    filterset_class = ChangeEventFilterSet  # its fields key the page cache too
    query_params = (PER_PAGE_PARAM, *CURSOR_PARAMS)
    export_name = "changes"

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.filterset = ChangeEventFilterSet(request.GET, queryset=selectors.timeline_events())
        self.ignored = ignored_filters(self.filterset)
        self.before = cursor_value(request.GET.get("before"))
        # Both cursors: the older page wins (a link never carries both).
        self.after = None if self.before else cursor_value(request.GET.get("after"))
        self.per_page = clamp_per_page(request.GET.get(PER_PAGE_PARAM), default=TIMELINE_PER_PAGE)

    def get(self, request, *args, **kwargs):
        if self.wants_export():
            events = self.filterset.qs.iterator(chunk_size=EXPORT_CHUNK_ROWS)
            return stream_csv(rows=change_event_csv_rows(events), filename="changes.csv")
        return super().get(request, *args, **kwargs)

    def get_feed_url(self) -> str:
        """The reader's feed page for this filter: it shows their own feed URL.

        Not the feed URL itself: this page is cached for every reader, and a feed URL
        holds one reader's key.
        """
        query = self.filterset.valid_values()
        path = reverse("catalog:feed_account")
        return f"{path}?{urlencode(query)}" if query else path

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        events = self.filterset.qs
        page = selectors.timeline_page(
            events, before=self.before, after=self.after, per_page=self.per_page
        )
        groups = selectors.sync_groups(
            page.events, queryset=events, newest_page=page.newer_than is None
        )
        urls = selectors.entity_urls(page.events)
        for group in groups:
            group.table = ChangeEventTable(
                group.events, entity_urls=urls, exclude=("occurred_at",), orderable=False
            )
        filtered = any(self.filterset.form.cleaned_data.values())
        context.update(
            filter=self.filterset,
            filtered=filtered,
            ignored=self.ignored,
            groups=groups,
            page=page,
            at_newest=page.newer_than is None,
            paged_from="older" if self.before else "newer" if self.after else None,
            total=selectors.capped_count(events),
            per_page=self.per_page,
            feed_url=self.get_feed_url(),
        )
        return context


def _history_query(entity_type: str, obj) -> dict[str, str]:
    """The timeline's parameters that name ``obj`` (natural keys, as deep links do)."""
    Entity = ChangeEvent.Entity
    if entity_type == Entity.EXPERIMENT:
        return {"experiment": obj.experiment_id}
    if entity_type == Entity.RUN:
        return {"run": obj.run_id}
    if entity_type == Entity.REGISTERED_MODEL:
        return {"model": obj.name}
    if entity_type == Entity.MODEL_VERSION:
        return {"model": obj.registered_model.name, "version": str(obj.version)}
    return {"logged_model": obj.model_id}


def history_panel(*, entity_type: str, obj) -> dict:
    """The context of an entity page's "History" panel (``partials/history.html``):
    its newest events (one query) and the timeline filtered to it."""
    events = selectors.entity_history(entity_type=entity_type, obj=obj)
    query = urlencode(_history_query(entity_type, obj))
    return {
        "history_table": ChangeEventTable(
            events, orderable=False, empty_text="No changes recorded for it yet."
        ),
        "history_url": f"{reverse('catalog:changes')}?{query}",
        "history_shown": selectors.HISTORY_EVENTS,
    }
