"""Reads of ``/healthz`` and the monitoring metrics."""

from __future__ import annotations

import re

from django.utils import timezone

from catalog.models import (
    SyncRun,
)


def sync_age_seconds(sync: SyncRun | None) -> int | None:
    if sync is None or sync.finished_at is None:
        return None
    return int((timezone.now() - sync.finished_at).total_seconds())


# SyncReport keeps the first warnings and sums up the rest in a last line.
_MORE_WARNINGS = re.compile(r"^\.\.\. and (\d+) more warnings$")


def warning_count(sync: SyncRun) -> int:
    """How many warnings ``sync`` raised, those past the stored ones included."""
    warnings = sync.warnings if isinstance(sync.warnings, list) else []
    if warnings and isinstance(warnings[-1], str):
        more = _MORE_WARNINGS.match(warnings[-1])
        if more:
            return len(warnings) - 1 + int(more.group(1))
    return len(warnings)
