"""The drift report: what MLflow and S3 disagree on, and what vanished.

Also the listing of one orphan folder's objects (``/audit/orphans/``) and the download
of an orphan object, which reads S3 by the catalogued key of the object's row.
"""

from __future__ import annotations

from django.db.models import Count, Min, Sum
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.views.generic import TemplateView

from catalog import selectors
from catalog.models import S3_BUCKET_MAX_LENGTH, S3_KEY_MAX_LENGTH
from catalog.tables import (
    AuditRunTable,
    AuditVersionTable,
    DeletedRunTable,
    OrphanFolderTable,
    OrphanObjectTable,
)
from catalog.views.artifacts import artifact_bytes_response
from catalog.views.exports import CsvExportMixin, stream_csv
from catalog.views.paging import BoundedTableMixin

# section -> (title, table class, selector)
SECTIONS = {
    "orphans": ("Orphan folders", OrphanFolderTable, selectors.orphan_folders),
    "empty-runs": ("Runs with no artifacts", AuditRunTable, selectors.runs_without_artifacts),
    "missing-artifacts": (
        "Versions with missing artifacts",
        AuditVersionTable,
        selectors.versions_with_missing_artifacts,
    ),
    "deleted-runs": (
        "Deleted runs whose artifacts remain",
        DeletedRunTable,
        selectors.deleted_run_rows,
    ),
}
GONE_SECTION = "gone"
GONE_CSV_HEADER = ("kind", "id", "name", "gone_since", "marked_by_latest_sync")


def _gone_csv_rows(*, since):
    yield GONE_CSV_HEADER
    for item in selectors.iter_gone_items(since=since):
        yield (
            item.kind,
            item.identifier,
            item.name,
            item.missing_since.isoformat(),
            "yes" if item.new_since_last_sync else "no",
        )


class AuditView(CsvExportMixin, BoundedTableMixin, TemplateView):
    """Headline counts of every drift kind, and one section's table (``?section=``)."""

    template_name = "catalog/audit.html"
    query_params = ("section",)
    table_pagination = {"per_page": 50}

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        section = request.GET.get("section", "orphans")
        self.section = section if section in SECTIONS or section == GONE_SECTION else "orphans"
        # An unknown section is shown as the orphans, and the page says so.
        self.ignored_section = None if section == self.section else section[:100]

    @property
    def export_name(self) -> str:
        return f"audit-{self.section}"

    def _since(self):
        sync = selectors.request_last_sync(self.request)
        return sync.started_at if sync else None

    def get(self, request, *args, **kwargs):
        if self.section == GONE_SECTION and self.wants_export():
            # The gone items are no table: their own columns, every row, full ids.
            return stream_csv(rows=_gone_csv_rows(since=self._since()), filename="audit-gone.csv")
        return super().get(request, *args, **kwargs)

    def get_table_class(self):
        return SECTIONS.get(self.section, SECTIONS["orphans"])[1]

    def get_table_data(self):
        if self.section == GONE_SECTION:
            return selectors.orphan_folders().none()
        return SECTIONS[self.section][2]()

    def get_table(self, **kwargs):
        table = super().get_table(**kwargs)
        if self.section == "orphans" and not self.wants_export() and hasattr(table, "page"):
            # The page's rows are read once and kept: the dicts marked here are rendered.
            selectors.attach_cleanup([row.record for row in table.page.object_list])
        return table

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if self.wants_export():
            return context
        context.update(
            summary=selectors.audit_summary(),
            section=self.section,
            ignored_section=self.ignored_section,
            sections=[(key, title) for key, (title, _, _) in SECTIONS.items()],
            section_title=SECTIONS[self.section][0]
            if self.section in SECTIONS
            else "Gone since a sync",
            gone=selectors.gone_items(since=self._since())
            if self.section == GONE_SECTION
            else None,
            gone_per_kind=selectors.GONE_ITEMS_PER_KIND,
        )
        return context


def _bounded_text(value: str | None, *, limit: int) -> str | None:
    """A query value that could be stored in a column of ``limit`` characters, else None."""
    if value is None or "\x00" in value or len(value) > limit:
        return None
    return value


class OrphanObjectsView(CsvExportMixin, BoundedTableMixin, TemplateView):
    """The objects of one orphan folder (``?bucket=&group=``), or one ``?key=`` of it.

    A stray key at the bucket's top (group "/") is only ever listed by its key.

    The folder is the group the sync put the objects in (``Artifact.orphan_folder``), as
    the drift report lists it; an unknown or empty group is a 404.
    """

    template_name = "catalog/orphan_objects.html"
    query_params = ("bucket", "group", "key")
    table_class = OrphanObjectTable
    table_pagination = {"per_page": 50}

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        bucket = _bounded_text(request.GET.get("bucket"), limit=S3_BUCKET_MAX_LENGTH)
        group = _bounded_text(request.GET.get("group"), limit=S3_KEY_MAX_LENGTH)
        key = request.GET.get("key")
        self.key = _bounded_text(key, limit=S3_KEY_MAX_LENGTH)
        if not bucket or group is None or (key is not None and self.key is None):
            raise Http404("No such orphan folder")
        if group == selectors.BUCKET_TOP_GROUP and self.key is None:
            # The bucket's top is no folder: its stray keys are listed one by one (the
            # audit links each), and listing them all would read the whole bucket.
            raise Http404("Stray keys are listed one by one")
        self.bucket, self.group = bucket, group

    @property
    def export_name(self) -> str:
        return "orphan-objects"

    def get_table_data(self):
        return selectors.orphan_group_objects(bucket=self.bucket, group=self.group, key=self.key)

    def get(self, request, *args, **kwargs):
        self.folder = self._folder_row()
        return super().get(request, *args, **kwargs)

    def _folder_row(self) -> dict:
        """The listed objects' totals and cleanup command (an orphan_folders row), or 404."""
        objects = selectors.orphan_group_objects(bucket=self.bucket, group=self.group, key=self.key)
        totals = objects.order_by().aggregate(
            object_count=Count("id"),
            total_bytes=Coalesce(Sum("size"), 0),
            first_key=Min("key"),
            sample_id=Min("id"),
        )
        if not totals["object_count"]:
            raise Http404("No such orphan folder")
        row = {"bucket": self.bucket, "orphan_folder": self.group, **totals}
        if self.key is None:
            return selectors.attach_cleanup([row])[0]
        return {**row, "cleanup": selectors.orphan_cleanup(row, shares_prefix=False)}

    def _folder_path(self) -> str:
        return "" if self.group == selectors.BUCKET_TOP_GROUP else self.group

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            bucket=self.bucket,
            group=self.group,
            uri=f"s3://{self.bucket}/{self.key if self.key is not None else self._folder_path()}",
            stray_key=self.key,
            at_bucket_top=self.group == selectors.BUCKET_TOP_GROUP,
            folder=self.folder,
        )
        return context


def orphan_download(request, pk: int):
    """An orphan object's bytes, always as an attachment (found by its row, never by a path)."""
    artifact = get_object_or_404(selectors.present_orphans(), pk=pk)
    return artifact_bytes_response(request, artifact=artifact, force_attachment=True)
