"""Stage 4b and 6: the change events written once every row is, and their purge.

Most events are written by the stages themselves, in the transaction of the rows they
describe (``catalog.sync.changes``). Two kinds wait for the whole sync: the first
sync's one summary, and the artifact changes summed per owner (gone ones are known
only after the missing-marking). Events past ``CATALOG_CHANGES_KEEP_DAYS`` are purged
at the end of every real sync.
"""

from __future__ import annotations

from django.conf import settings

from catalog.sync.changes.artifacts import write_artifact_events
from catalog.sync.changes.catalogue import purge_old_events, record_initial_import
from catalog.sync.context import SyncContext


def record_sync_changes(ctx: SyncContext) -> None:
    """The first sync's one summary event, or the artifact changes per owner."""
    if ctx.changes.initial_import:
        record_initial_import(
            log=ctx.changes, report=ctx.report, artifact_bytes=ctx.artifact_bytes_created
        )
        return
    write_artifact_events(
        log=ctx.changes,
        tally=ctx.artifact_changes,
        artifacts_destination=ctx.options.artifacts_destination,
    )


def purge_expired_changes(ctx: SyncContext) -> None:
    """Delete the events older than ``CATALOG_CHANGES_KEEP_DAYS`` (not in a dry run)."""
    if not ctx.options.dry_run:
        purge_old_events(now=ctx.now, keep_days=settings.CATALOG_CHANGES_KEEP_DAYS)
