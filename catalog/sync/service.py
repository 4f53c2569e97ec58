"""The one entry point of a sync: the command, an admin action and benchmarks call it.

    report = run_sync(mlflow_source=..., s3_source=..., options=SyncOptions(...))

``mlflow_source`` and ``s3_source`` follow the protocols ``MlflowSourceLike`` and
``S3SourceLike`` of ``catalog.sync.records`` (the real ones are
``catalog.sync.mlflow_source.MlflowSource`` and ``catalog.sync.s3_source.S3Source``);
both may be in-memory streams of ``catalog.sync.records`` values. The path of a sync:
``run_sync`` (lock, ``SyncRun`` row, dry-run rollback) -> ``catalog.sync.reconcile``
(the stages in order) -> ``catalog.sync.stages``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from catalog.models import SyncRun
from catalog.sync.lock import SyncLocked, sync_lock
from catalog.sync.reconcile import reconcile
from catalog.sync.records import MlflowSourceLike, S3SourceLike, SourceError
from catalog.sync.report import SyncConfigurationError, SyncOptions, SyncReport
from catalog.sync.text_limits import storable_text
from catalog.webhooks import deliver_after_sync

__all__ = ["SyncLocked", "SyncOptions", "SyncReport", "run_sync"]

logger = logging.getLogger("catalog.sync")

# The error recorded on a SyncRun that the next sync found still "running".
ABANDONED_ERROR = "the process that ran this sync stopped without finishing"


class _DryRunRollback(Exception):
    """Raised inside the dry run's transaction to undo everything it wrote."""


def run_sync(
    *,
    mlflow_source: MlflowSourceLike,
    s3_source: S3SourceLike,
    options: SyncOptions,
    lock: bool = True,
) -> SyncReport:
    """Sync the catalogue from the two sources and return the report.

    Holds the sync lock for its whole duration (raises ``SyncLocked`` at once when
    another sync holds it; ``lock=False`` is for callers that already hold it).
    A real sync records a ``SyncRun`` row, after marking those left "running" by a sync
    that died as aborted; a dry run writes nothing at all: it runs inside a
    transaction that is rolled back. Never raises for source failures: the
    report says ``failed`` (nothing written) or ``partial``.
    """
    with sync_lock() if lock else contextlib.nullcontext():
        started = timezone.now()
        clock = time.monotonic()
        # A dry run writes nothing, this mark included; the next real sync makes it.
        aborted = [] if options.dry_run else abort_abandoned_runs(now=started)
        # A sync that died (aborted, or "failed") may have written rows without
        # recomputing the totals over them: the next sync must recompute.
        previous_status = (
            SyncRun.objects.filter(dry_run=False).order_by("-pk").values_list("status", flat=True)
        ).first()
        sync_run = None
        if not options.dry_run:
            sync_run = SyncRun.objects.create(
                started_at=started, status=SyncRun.Status.RUNNING, options=_options_json(options)
            )
        report = _reconcile_safely(
            mlflow_source=mlflow_source,
            s3_source=s3_source,
            options=options,
            sync_run=sync_run,
            totals_current=previous_status in (SyncRun.Status.OK, SyncRun.Status.PARTIAL),
            # A partial sync may have written rows its listing ranges do not describe
            # (ADR 0015).
            ranges_current=previous_status == SyncRun.Status.OK,
        )
        report.duration_s = time.monotonic() - clock
        for pk in aborted:
            report.warn(f"sync {pk} was aborted: {ABANDONED_ERROR}")
        if sync_run is not None:
            _record(sync_run, report)
            try:  # a receiver down, slow or broken never changes the sync's outcome
                deliver_after_sync(sync_run)
            except Exception:
                logger.exception("webhook deliveries after sync %s failed", sync_run.pk)
        return report


def _record(sync_run: SyncRun, report: SyncReport) -> None:
    report.sync_run_id = sync_run.pk
    sync_run.finished_at = timezone.now()
    sync_run.status = report.status
    summary = report.as_dict()
    sync_run.counts = summary["counts"]
    sync_run.orphans = report.orphans
    sync_run.warnings = summary["warnings"]
    # An error message may quote a hostile value; the row must still save (ADR 0016).
    sync_run.error = storable_text(report.error)
    sync_run.duration_s = round(report.duration_s, 3)
    sync_run.save()


def abort_abandoned_runs(*, now: datetime) -> list[int]:
    """Mark every SyncRun still "running" as aborted; return their ids.

    Only a caller holding the sync lock may call it: then no other sync runs, so a
    "running" row is one whose process died (killed, out of memory, machine down)
    before it could record its outcome.
    """
    abandoned = list(
        SyncRun.objects.filter(status=SyncRun.Status.RUNNING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if abandoned:
        SyncRun.objects.filter(pk__in=abandoned, status=SyncRun.Status.RUNNING).update(
            status=SyncRun.Status.ABORTED, finished_at=now, error=ABANDONED_ERROR
        )
        logger.warning("marked abandoned syncs as aborted: %s", abandoned)
    return abandoned


def _reconcile_safely(
    *,
    mlflow_source: MlflowSourceLike,
    s3_source: S3SourceLike,
    options: SyncOptions,
    sync_run: SyncRun | None,
    totals_current: bool,
    ranges_current: bool,
) -> SyncReport:
    outcome: dict[str, SyncReport] = {}
    try:
        if options.dry_run:
            try:
                with transaction.atomic():
                    outcome["report"] = reconcile(
                        mlflow_source=mlflow_source,
                        s3_source=s3_source,
                        options=options,
                        sync_run_id=None,
                        totals_current=totals_current,
                        ranges_current=ranges_current,
                    )
                    raise _DryRunRollback
            except _DryRunRollback:
                pass
        else:
            outcome["report"] = reconcile(
                mlflow_source=mlflow_source,
                s3_source=s3_source,
                options=options,
                # The change events it writes belong to this run.
                sync_run_id=sync_run.pk if sync_run is not None else None,
                totals_current=totals_current,
                ranges_current=ranges_current,
            )
    except (SourceError, SyncConfigurationError) as error:
        return SyncReport(status="failed", dry_run=options.dry_run, error=str(error))
    except Exception as error:  # a bug or a database failure: recorded, then reported
        logger.exception("sync failed")
        return SyncReport(
            status="failed", dry_run=options.dry_run, error=f"{type(error).__name__}: {error}"
        )
    return outcome["report"]


def _options_json(options: SyncOptions) -> dict[str, Any]:
    return {
        "dry_run": options.dry_run,
        "experiment_ids": list(options.experiment_ids),
        "max_missing_share": options.max_missing_share,
        "extra_roots": list(options.extra_roots),
    }
