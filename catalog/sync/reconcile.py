"""Reconcile: one sync as an ordered list of stages over a ``SyncContext``.

``reconcile(mlflow_source=..., s3_source=..., options=...)`` reads the two sources (any
objects with the methods of ``MlflowSourceLike`` / ``S3SourceLike`` in
``catalog.sync.records``, so tests and benchmarks can hand in in-memory streams),
compares each record's fingerprint with its row's, writes only what changed, in
batches, marks missing by set difference, recomputes the totals and returns a
``SyncReport``. ``catalog.sync.service.run_sync`` is the entry point that records it.

The stages (``catalog.sync.stages``), in order:

1. experiments, runs (with the metric history of changed runs), logged models;
2. the S3 walks: artifacts and the content of their small files. The listing starts
   before stage 1, so S3 and MLflow are waited on at once;
3. the registry (after the walk: a version's flavors come from its artifact rows);
4. missing-marking, all or nothing, and the listing ranges for the next sync; then
   the artifact changes' events (per owner) or, on the first sync, its one summary;
5. totals and planner statistics; the purge of change events past their keep.

Each stage records the changes it writes as ``ChangeEvent`` rows in the transaction
of those rows (``catalog.sync.changes``; docs/sync.md, "Change events").

``last_seen`` is written with the row: a row that did not change keeps its old
``last_seen``, since a no-change sync writes nothing. A row with ``missing_since``
null was present at the last complete sync.
"""

from __future__ import annotations

from django.db import connection

from catalog.sync.clean_source import CleanMlflowSource
from catalog.sync.collector import collector_paused
from catalog.sync.context import SyncContext
from catalog.sync.records import MlflowSourceLike, S3SourceLike
from catalog.sync.report import SyncOptions, SyncReport, logged_stage
from catalog.sync.stages.artifacts import plan_walks, start_listing, sync_artifacts
from catalog.sync.stages.changes import purge_expired_changes, record_sync_changes
from catalog.sync.stages.missing import keep_listing_ranges, mark_missing
from catalog.sync.stages.mlflow_entities import (
    list_experiments,
    sync_experiments,
    sync_logged_models,
    sync_runs,
)
from catalog.sync.stages.registry import sync_registry
from catalog.sync.stages.totals import recompute_totals, refresh_statistics


def reconcile(
    *,
    mlflow_source: MlflowSourceLike,
    s3_source: S3SourceLike,
    options: SyncOptions,
    sync_run_id: int | None = None,
    totals_current: bool = False,
    ranges_current: bool = False,
) -> SyncReport:
    """Run one sync's reads and writes; see the module docstring.

    ``totals_current`` says the stored totals match the stored rows (the previous sync
    finished): a sync that then writes no row leaves them as they are.
    ``ranges_current`` says the stored listing ranges match the stored rows (the
    previous sync ended ok): a walk's unchanged ranges then read no row (ADR 0015).
    ``sync_run_id``: the ``SyncRun`` the change events belong to (none in a dry run).

    Raises ``SourceError`` if MLflow can't list experiments (nothing has been written
    then) and ``SyncConfigurationError`` for a bad option; every later source failure
    is a warning and a ``partial`` status.
    """
    report = SyncReport(dry_run=options.dry_run)
    ctx = SyncContext(
        # Every MLflow record is fitted for both databases before it becomes a row.
        mlflow=CleanMlflowSource(mlflow_source, warn=report.warn),
        s3=s3_source,
        options=options,
        report=report,
        sync_run_id=sync_run_id,
        totals_current=totals_current,
        ranges_current=ranges_current,
    )
    # Millions of short-lived tuples at a million objects: see catalog.sync.collector.
    with collector_paused():
        experiments = list_experiments(ctx)  # raises SourceError: nothing written yet
        plan = plan_walks(ctx, experiments)
        listing = start_listing(ctx, plan)  # closed whatever happens: it stops a thread
        try:
            with connection.execute_wrapper(ctx.count_writes):
                with logged_stage(report, "experiments"):
                    sync_experiments(ctx, experiments)
                listed_ids = [record.experiment_id for record in experiments]
                with logged_stage(report, "runs"):
                    sync_runs(ctx, listed_ids)
                with logged_stage(report, "logged_models"):
                    sync_logged_models(ctx, listed_ids)
                with logged_stage(report, "artifacts"):
                    sync_artifacts(ctx, plan, listing)
        finally:
            listing.close()
        with connection.execute_wrapper(ctx.count_writes):
            with logged_stage(report, "registered_models", "model_versions"):
                sync_registry(ctx)
            with logged_stage(report, "missing-marking"):
                keep_listing_ranges(ctx, marked=mark_missing(ctx))
            with logged_stage(report, "change events"):
                record_sync_changes(ctx)
        with logged_stage(report, "totals"):
            recompute_totals(ctx)
            refresh_statistics(ctx)
        with logged_stage(report, "change events purge"):
            purge_expired_changes(ctx)
    if ctx.incomplete and report.status == "ok":
        report.status = "partial"
    report.change_events = ctx.changes.written
    return report
