"""The audit page's tables: orphan folders and their objects, deleted runs' leftovers."""

from __future__ import annotations

from urllib.parse import urlencode

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html

from catalog.cleanup import CleanupCommand, s3_rm_command
from catalog.models import Artifact
from catalog.selectors import BUCKET_TOP_GROUP, run_cleanup
from catalog.tables.base import CatalogTable, IsoDateTimeColumn
from catalog.tables.columns import BytesColumn
from catalog.tables.runs import AuditRunTable
from catalog.templatetags.catalog_tags import breakable


def orphan_listing_url(*, bucket: str, group: str, key: str | None = None) -> str:
    """The listing of an orphan group's objects (of its one ``key`` for a stray key)."""
    query = {"bucket": bucket, "group": group}
    if key is not None:
        query["key"] = key
    return f"{reverse('catalog:orphan_objects')}?{urlencode(query)}"


def orphan_row_url(record: dict) -> str:
    """Where an ``orphan_folders`` row leads: its folder's objects, or its stray key."""
    stray_key = record["entry"] if record["orphan_folder"] == BUCKET_TOP_GROUP else None
    return orphan_listing_url(bucket=record["bucket"], group=record["orphan_folder"], key=stray_key)


def cleanup_html(command: CleanupCommand | None, *, none_text: str = "—"):
    """A cleanup command's dry run and real command, each labelled, with its Copy button."""
    if command is None:
        return none_text
    return format_html(
        '<div class="cleanup"><span class="cleanup-label">Dry run</span> '
        '<code class="command">{}</code> '
        '<button type="button" class="copy" data-copy="{}">Copy</button></div>'
        '<div class="cleanup"><span class="cleanup-label">Delete</span> '
        '<code class="command">{}</code> '
        '<button type="button" class="copy" data-copy="{}">Copy</button></div>',
        breakable(command.dry_run),
        command.dry_run,
        breakable(command.delete),
        command.delete,
    )


def orphan_row_name(record: dict) -> str:
    """What an orphan row is called: its folder, or its key when it holds one object.

    One object in the folder of an experiment (``4/ai4i_dataset_snapshot.csv``) is that
    object, not the folder, which holds the experiment's runs too.
    """
    name = record["first_key"] if record["object_count"] == 1 else record["entry"]
    return f"s3://{record['bucket']}/{name or ''}"


class OrphanFolderTable(CatalogTable):
    """Orphan folders and stray keys (dict rows from ``selectors.orphan_folders``).

    The ``cleanup`` cell reads ``record["cleanup"]``, set on the page's rows by
    ``selectors.attach_cleanup`` (one query); the CSV export leaves it out, since its
    rows are not checked.
    """

    entry = tables.Column(verbose_name="Folder", order_by=("entry",))
    bucket = tables.Column(verbose_name="Bucket")
    object_count = tables.Column(verbose_name="Objects")
    total_bytes = BytesColumn(verbose_name="Bytes")
    cleanup = tables.Column(
        verbose_name="Cleanup (aws CLI)",
        accessor="bucket",
        orderable=False,
        empty_values=(),
        exclude_from_export=True,
    )

    class Meta(CatalogTable.Meta):
        order_by = ("-total_bytes",)
        empty_text = "No orphan folders: every folder belongs to an experiment."

    def render_entry(self, record):
        link = format_html(
            '<a href="{}"><code>{}</code></a>',
            orphan_row_url(record),
            breakable(orphan_row_name(record)),
        )
        if record["orphan_folder"] == BUCKET_TOP_GROUP:
            return format_html('{} <span class="muted">(stray key)</span>', link)
        return link

    def value_entry(self, record):
        return orphan_row_name(record)

    def render_object_count(self, record, value):
        return format_html('<a href="{}">{}</a>', orphan_row_url(record), value)

    def value_object_count(self, value):
        return value

    def render_cleanup(self, record):
        if "cleanup" not in record:
            return "—"
        if record["cleanup"] is None and record.get("shares_prefix"):
            return format_html(
                '<span class="muted">Runs\' files share this prefix: '
                '<a href="{}">remove object by object</a></span>',
                orphan_row_url(record),
            )
        return cleanup_html(record["cleanup"])


class DeletedRunTable(AuditRunTable):
    """Deleted or vanished runs whose objects remain (``selectors.deleted_run_rows``)."""

    cleanup = tables.Column(
        verbose_name="Cleanup (aws CLI)",
        accessor="pk",
        orderable=False,
        empty_values=(),
        exclude_from_export=True,
    )

    class Meta(AuditRunTable.Meta):
        empty_text = "No deleted run leaves objects in S3."
        sequence = (*AuditRunTable.Meta.fields, "cleanup")

    def render_cleanup(self, record):
        return cleanup_html(run_cleanup(record))


class OrphanObjectTable(CatalogTable):
    """The objects of one orphan folder (``selectors.orphan_group_objects``)."""

    key = tables.Column(verbose_name="Key")
    size = BytesColumn(verbose_name="Size")
    last_modified = IsoDateTimeColumn(verbose_name="Last modified", format="Y-m-d H:i")
    download = tables.Column(
        verbose_name="Download",
        accessor="pk",
        orderable=False,
        empty_values=(),
        exclude_from_export=True,
    )
    cleanup = tables.Column(
        verbose_name="Cleanup (aws CLI)",
        accessor="pk",
        orderable=False,
        empty_values=(),
        exclude_from_export=True,
    )

    class Meta(CatalogTable.Meta):
        model = Artifact
        fields = ("key", "size", "last_modified", "download", "cleanup")
        order_by = ("key",)
        empty_text = "No objects left in this folder."

    def render_key(self, record):
        return format_html(
            '<code class="s3-uri">{}</code> <button type="button" class="copy" '
            'data-copy="{}">Copy</button>',
            breakable(record.s3_uri),
            record.s3_uri,
        )

    def value_key(self, record):
        return record.s3_uri

    def render_download(self, record):
        return format_html(
            '<a class="button" href="{}" download>Download</a>',
            reverse("catalog:orphan_download", args=[record.pk]),
        )

    def render_cleanup(self, record):
        return cleanup_html(s3_rm_command(bucket=record.bucket, key=record.key, recursive=False))
