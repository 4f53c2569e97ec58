"""The drift report: what MLflow and S3 disagree on, and what vanished."""

from __future__ import annotations

from django.views.generic import TemplateView

from catalog import selectors
from catalog.tables import AuditRunTable, AuditVersionTable, OrphanFolderTable
from catalog.views.exports import CsvExportMixin
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
        AuditRunTable,
        selectors.deleted_runs_with_artifacts,
    ),
}
GONE_SECTION = "gone"


class AuditView(CsvExportMixin, BoundedTableMixin, TemplateView):
    """Headline counts of every drift kind, and one section's table (``?section=``)."""

    template_name = "catalog/audit.html"
    query_params = ("section",)
    table_pagination = {"per_page": 50}

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        section = request.GET.get("section", "orphans")
        self.section = section if section in SECTIONS or section == GONE_SECTION else "orphans"

    @property
    def export_name(self) -> str:
        return f"audit-{self.section}"

    def get_table_class(self):
        return SECTIONS.get(self.section, SECTIONS["orphans"])[1]

    def get_table_data(self):
        if self.section == GONE_SECTION:
            return selectors.orphan_folders().none()
        return SECTIONS[self.section][2]()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if self.wants_export():
            return context
        sync = selectors.request_last_sync(self.request)
        context.update(
            summary=selectors.audit_summary(),
            section=self.section,
            sections=[(key, title) for key, (title, _, _) in SECTIONS.items()],
            section_title=SECTIONS[self.section][0]
            if self.section in SECTIONS
            else "Gone since a sync",
            gone=selectors.gone_items(since=sync.started_at if sync else None)
            if self.section == GONE_SECTION
            else None,
        )
        return context
