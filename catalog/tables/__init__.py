"""django-tables2 tables of the catalogue pages: one ``<Model>Table`` per list.

Render methods read only what the selectors fetched (annotations, ``select_related``,
prefetches): none of them queries. Everything from MLflow goes through ``format_html``
or the template engine, so it is escaped. ``value_*`` methods give the plain values the
CSV export writes; a cell several tables draw alike is a column class of ``columns.py``,
which brings its HTML and its plain value together.
"""

from catalog.tables.audit import (
    DeletedRunTable,
    OrphanFolderTable,
    OrphanObjectTable,
    cleanup_html,
    orphan_listing_url,
    orphan_row_name,
    orphan_row_url,
)
from catalog.tables.base import (
    CatalogTable,
    IsoDateTimeColumn,
    badge,
    pairs_text,
    presence_badge,
    presence_text,
)
from catalog.tables.changes import (
    ChangeEventTable,
    change_event_csv_rows,
)
from catalog.tables.experiments import (
    ExperimentTable,
    QuickReferenceTable,
)
from catalog.tables.models import (
    AuditVersionTable,
    CategoryModelTable,
    ModelVersionTable,
    RegisteredModelTable,
    RunModelVersionTable,
)
from catalog.tables.quality import (
    LeaderboardTable,
)
from catalog.tables.runs import (
    AuditRunTable,
    RunTable,
)

__all__ = [
    "AuditRunTable",
    "AuditVersionTable",
    "CatalogTable",
    "ChangeEventTable",
    "CategoryModelTable",
    "DeletedRunTable",
    "ExperimentTable",
    "IsoDateTimeColumn",
    "LeaderboardTable",
    "ModelVersionTable",
    "OrphanFolderTable",
    "OrphanObjectTable",
    "QuickReferenceTable",
    "RegisteredModelTable",
    "RunModelVersionTable",
    "RunTable",
    "badge",
    "change_event_csv_rows",
    "pairs_text",
    "cleanup_html",
    "orphan_listing_url",
    "orphan_row_name",
    "orphan_row_url",
    "presence_badge",
    "presence_text",
]
