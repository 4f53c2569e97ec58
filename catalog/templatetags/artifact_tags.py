"""``{% artifacts_panel owner %}``: a run's or logged model's plots and top-level tree.

Used on the run and logged-model pages (docs/pages.md). Three queries whatever
the number of artifacts: the plot gallery (limited), the top folder's subfolder
aggregate and one page of its files.
"""

from __future__ import annotations

from django import template

from catalog.artifact_browser import (
    OwnerKind,
    annotate_files,
    folder_listing,
    owner_public_id,
    plot_artifacts,
)
from catalog.models import LoggedModel, Run

register = template.Library()

PANEL_GALLERY_LIMIT = 24
PANEL_FILES_LIMIT = 100


@register.inclusion_tag("catalog/partials/artifacts_panel.html")
def artifacts_panel(owner: Run | LoggedModel) -> dict:
    """Context of the artifacts panel of ``owner`` (a Run or a LoggedModel)."""
    kind = OwnerKind.of(owner)
    public_id = owner_public_id(owner)
    plots = plot_artifacts(owner=owner, limit=PANEL_GALLERY_LIMIT + 1)
    listing = folder_listing(owner=owner, folder="", per_page=PANEL_FILES_LIMIT)
    return {
        "owner": owner,
        "kind": kind.value,
        "gallery": annotate_files(
            files=plots[:PANEL_GALLERY_LIMIT], kind=kind, public_id=public_id
        ),
        "more_plots": len(plots) > PANEL_GALLERY_LIMIT,
        "listing": listing,
        "files": annotate_files(files=listing.files, kind=kind, public_id=public_id),
        "root_url": listing.breadcrumbs[0].url,
    }
