"""Reads of ``/healthz``."""

from __future__ import annotations

from django.utils import timezone

from catalog.models import (
    SyncRun,
)


def sync_age_seconds(sync: SyncRun | None) -> int | None:
    if sync is None or sync.finished_at is None:
        return None
    return int((timezone.now() - sync.finished_at).total_seconds())
