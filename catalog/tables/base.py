"""What every table shares: the catalogue's table options, badges and key=value cells."""

from __future__ import annotations

import django_tables2 as tables
from django.utils.html import format_html, format_html_join


def badge(text: str, kind: str):
    return format_html('<span class="badge badge-{}">{}</span>', kind, text)


def presence_badge(present: bool | None):
    if present is None:
        return badge("unknown", "unknown")
    return badge("present", "ok") if present else badge("missing", "missing")


def _pairs(mapping: dict, limit: int) -> str:
    items = sorted((mapping or {}).items())
    html = format_html_join(
        " ", '<span class="tag">{}={}</span>', ((key, value) for key, value in items[:limit])
    )
    if len(items) > limit:
        html += format_html(' <span class="muted">+{}</span>', len(items) - limit)
    return html


def _pairs_text(mapping: dict) -> str:
    return "; ".join(f"{key}={value}" for key, value in sorted((mapping or {}).items()))


class CatalogTable(tables.Table):
    """Shared table options: the catalogue's CSS class and template."""

    class Meta:
        attrs = {"class": "table"}
        template_name = "django_tables2/catalog_table.html"
