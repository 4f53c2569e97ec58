"""The audit page's tables of orphan folders."""

from __future__ import annotations

import django_tables2 as tables
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html

from catalog.tables.base import (
    CatalogTable,
)


class OrphanFolderTable(CatalogTable):
    """Orphan folders (rows are dicts from ``selectors.orphan_folders``)."""

    orphan_folder = tables.Column(verbose_name="Folder")
    bucket = tables.Column(verbose_name="Bucket")
    object_count = tables.Column(verbose_name="Objects")
    total_bytes = tables.Column(verbose_name="Bytes")

    class Meta(CatalogTable.Meta):
        order_by = ("-total_bytes",)
        empty_text = "No orphan folders: every folder belongs to an experiment."

    def render_orphan_folder(self, record):
        return format_html(
            "<code>s3://{}/{}</code>", record["bucket"], record["orphan_folder"] or ""
        )

    def value_orphan_folder(self, record):
        return f"s3://{record['bucket']}/{record['orphan_folder'] or ''}"

    def render_total_bytes(self, value):
        return filesizeformat(value)

    def value_total_bytes(self, value):
        return value
