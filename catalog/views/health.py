"""``/healthz``: no login; is the database reachable, how old is the last sync, did it succeed."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from catalog import selectors
from catalog.models import SyncRun


@login_not_required
@never_cache
def healthz(request):
    """200 with the database state and the last sync, or 503 if the database is down.

    The last sync is ``healthy`` only if it was ``ok``: a partial, failed or aborted
    one (its process died mid-sync) left the catalogue behind its sources. The page
    stays 200 then: the site itself serves, and a probe that restarts web servers on
    a 503 must not restart them over a sync.
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        sync = selectors.last_sync()
    except DatabaseError as error:
        return JsonResponse(
            {"database": "error", "error": type(error).__name__, "last_sync": None}, status=503
        )
    last_sync = None
    if sync is not None:
        last_sync = {
            "status": sync.status,
            "finished_at": sync.finished_at.isoformat() if sync.finished_at else None,
            "age_s": selectors.sync_age_seconds(sync),
            "healthy": sync.status == SyncRun.Status.OK,
        }
    return JsonResponse({"database": "ok", "last_sync": last_sync})
