"""What every table shares: the catalogue's table options, badges, key=value cells and
the plain values of the CSV exports."""

from __future__ import annotations

import django_tables2 as tables
from django.utils.html import format_html, format_html_join


def badge(text: str, kind: str):
    return format_html('<span class="badge badge-{}">{}</span>', kind, text)


def presence_badge(present: bool | None):
    if present is None:
        return badge("unknown", "unknown")
    return badge("present", "ok") if present else badge("missing", "missing")


def presence_text(present: bool | None) -> str:
    """The export's word for ``presence_badge``."""
    return {True: "present", False: "missing", None: "unknown"}[present]


def _pairs(mapping: dict, limit: int) -> str:
    items = sorted((mapping or {}).items())
    html = format_html_join(
        " ", '<span class="tag">{}={}</span>', ((key, value) for key, value in items[:limit])
    )
    if len(items) > limit:
        html += format_html(' <span class="muted">+{}</span>', len(items) - limit)
    return html


def pairs_text(mapping: dict | None) -> str:
    """Every ``key=value`` of ``mapping``, sorted by key, joined by "; ": an export cell.

    Values are written as Python writes them (a float keeps every digit it has); a null
    (NaN or infinity in MLflow, which the sync stores as null) is an empty value.
    """
    return "; ".join(
        f"{key}={'' if value is None else value}" for key, value in sorted((mapping or {}).items())
    )


class IsoDateTimeColumn(tables.DateTimeColumn):
    """A date and time shown in the page's short format, exported as ISO 8601.

    django-tables2 exports a datetime with a space between date and time; the exports
    write the full ISO 8601 form (``2026-11-01T12:00:00+00:00``) that any parser reads.
    """

    def value(self, value, **kwargs):
        # Not the page's placeholder ("—") for a missing date: an empty cell.
        return value.isoformat() if value is not None else ""


class CatalogTable(tables.Table):
    """Shared table options: the catalogue's CSS class and template.

    The CSV export reads ``as_values()``: every row of the data, each cell from the
    column's ``value_<name>`` method (never its HTML ``render_<name>``). A table whose
    export needs more than the page shows (every model of a folder, not the first
    three) fetches it in ``prepare_export``, once for all rows, before they are read.
    """

    class Meta:
        attrs = {"class": "table"}
        template_name = "django_tables2/catalog_table.html"

    def prepare_export(self) -> None:
        """Fetch, in a bounded number of queries, what the export's values read."""

    def as_values(self, exclude_columns=None):
        # Once per table: a second identical prefetch on the same queryset is an error.
        if not getattr(self, "_export_prepared", False):
            self.prepare_export()
            self._export_prepared = True
        return super().as_values(exclude_columns=exclude_columns)
