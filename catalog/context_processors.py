"""Template context every page gets: the last sync, for the "synced 4 min ago" line."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from catalog.selectors import request_last_sync


def catalog(request: HttpRequest) -> dict:
    """Expose the latest finished SyncRun and the MLflow UI base URL to templates."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {"mlflow_ui_url": settings.CATALOG_MLFLOW_UI_URL}
    last_sync = request_last_sync(request)
    return {"last_sync": last_sync, "mlflow_ui_url": settings.CATALOG_MLFLOW_UI_URL}
