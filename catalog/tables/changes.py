"""The change events' table: the timeline's sync groups, the history panels, the CSV.

Render methods read only the event row and the links the view resolved beforehand
(``entity_urls``: the page of each entity whose row still exists); they never query.
The export writes ``changes`` whole, as JSON, and the entity's key and link as text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

import django_tables2 as tables
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from catalog.change_links import event_url
from catalog.change_words import change_words
from catalog.models import ChangeEvent
from catalog.tables.base import CatalogTable, IsoDateTimeColumn
from catalog.templatetags.catalog_tags import breakable

# Kinds drawn in the colours of the existing badges.
KIND_BADGES = {
    ChangeEvent.Kind.CREATED: "ok",
    ChangeEvent.Kind.RESTORED: "ok",
    ChangeEvent.Kind.MISSING: "missing",
    ChangeEvent.Kind.ALIAS_MOVED: "partial",
    ChangeEvent.Kind.ORPHANS: "partial",
}
# Labels by value: a model's get_<field>_display() rebuilds its choices' dict per call.
KIND_LABELS = dict(ChangeEvent.Kind.choices)
ENTITY_LABELS = dict(ChangeEvent.Entity.choices)
CSV_HEADER = (
    "ID",
    "Occurred at",
    "Sync",
    "Kind",
    "Entity type",
    "Entity key",
    "Entity name",
    "Summary",
    "Changes",
    "Link",
)


def changes_json(changes) -> str:
    """``changes`` as compact JSON with sorted keys: the export's full value."""
    return json.dumps(changes, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def changes_html(event: ChangeEvent):
    """The event's old -> new pairs in words, else its summary (escaped)."""
    words, more = change_words(event.changes)
    pairs = [word for word in words if word.is_pair]
    if not pairs:
        text = event.summary or "; ".join(f"{word.label}: {word.new}" for word in words)
        return format_html('<span class="change-summary">{}</span>', text) if text else "—"
    html = format_html_join(
        " ",
        '<span class="change"><span class="change-field">{}</span> '
        '<span class="change-old">{}</span> → <span class="change-new">{}</span></span>',
        ((word.label, word.old, word.new) for word in pairs),
    )
    if more:
        html += format_html(' <span class="muted">+{} more</span>', more)
    return html


class ChangeEventTable(CatalogTable):
    """Events, newest first. ``entity_urls`` maps (entity type, pk) to the entity's page;
    without it (the history panels) links are built from the event's key."""

    OCCURRED_AT_FORMAT = "Y-m-d H:i"
    occurred_at = IsoDateTimeColumn(verbose_name="When", format=OCCURRED_AT_FORMAT, orderable=False)
    kind = tables.Column(verbose_name="Kind", orderable=False)
    entity = tables.Column(verbose_name="Entity", accessor="entity_key", orderable=False)
    changes = tables.Column(verbose_name="What changed", orderable=False, empty_values=())

    class Meta(CatalogTable.Meta):
        model = ChangeEvent
        fields = ("occurred_at", "kind", "entity", "changes")
        attrs = {"class": "table changes-table"}
        empty_text = "No changes recorded."
        template_name = "django_tables2/change_events_table.html"

    def __init__(self, *args, entity_urls: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.entity_urls = entity_urls

    def rendered_rows(self) -> Iterator[list]:
        """Each event's shown cells, rendered by this table's own methods.

        What django-tables2 renders through its layers per cell (accessor, signature
        inspection, the cell template), written directly: a timeline page of 500 events
        spent 68 ms in those layers around 16 ms of its cells. The same HTML
        (``tests/pages/test_changes.py`` renders both ways); never sorted or paged.
        """
        renderers = {
            "occurred_at": self.occurred_at_html,
            "kind": self.render_kind,
            "entity": self.render_entity,
            "changes": self.render_changes,
        }
        shown = [renderers[column.name] for column in self.columns]
        for record in self.data.data:
            yield [render(record) for render in shown]

    def link_of(self, event: ChangeEvent) -> str | None:
        """The entity's page, or None when its row is gone or it has none."""
        if self.entity_urls is None or event.object_pk is None:
            return event_url(event)
        return self.entity_urls.get((event.entity_type, event.object_pk))

    def occurred_at_html(self, record):
        # Not render_occurred_at: the column's own rendering stays django-tables2's, which
        # the test of rendered_rows compares this with.
        when = record.occurred_at
        return date_format(timezone.localtime(when), self.OCCURRED_AT_FORMAT) if when else "—"

    def render_kind(self, record):
        kind = record.kind
        return format_html(
            '<span class="badge badge-{} kind-{}" data-event="{}">{}</span>',
            KIND_BADGES.get(kind, "unknown"),
            kind,
            record.pk,
            KIND_LABELS.get(kind, kind),
        )

    def render_entity(self, record):
        name = record.entity_name or record.entity_key or "—"
        url = self.link_of(record)
        entity_type = ENTITY_LABELS.get(record.entity_type, record.entity_type)
        kind = format_html('<span class="entity-type">{}</span>', entity_type)
        if url is None:
            gone = record.object_pk is not None and self.entity_urls is not None
            suffix = mark_safe(' <span class="muted">(gone)</span>') if gone else ""
            return format_html(
                '{} <span class="entity-name">{}</span>{}', kind, breakable(name), suffix
            )
        return format_html('{} <a class="entity-name" href="{}">{}</a>', kind, url, breakable(name))

    def render_changes(self, record):
        return changes_html(record)

    def value_kind(self, record):
        return record.kind

    def value_entity(self, record):
        return record.entity_name or record.entity_key

    def value_changes(self, record):
        return changes_json(record.changes)


def change_event_csv_rows(events: Iterable[ChangeEvent]) -> Iterator[tuple]:
    """The export of ``events``: a header, then one plain row per event."""
    yield CSV_HEADER
    for event in events:
        yield (
            event.pk,
            event.occurred_at.isoformat(),
            event.sync_run_id or "",
            event.kind,
            event.entity_type,
            event.entity_key,
            event.entity_name,
            event.summary,
            changes_json(event.changes),
            event_url(event) or "",
        )
