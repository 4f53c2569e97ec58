"""Stage 4: rows not listed are marked missing (soft delete, ADR 0001), all or nothing.

Kept apart from the upserts on purpose: creating and updating trust each record a
source yields; deleting trusts that a listing was complete, which is a judgement
over the whole sync (Read the Docs keeps ``delete_versions_from_db`` apart likewise).
"""

from __future__ import annotations

from django.db import transaction

from catalog.models import Artifact, Experiment, LoggedModel, ModelVersion, RegisteredModel, Run
from catalog.sync.artifacts.ranges import save_ranges
from catalog.sync.changes.artifacts import gone_by_owner
from catalog.sync.changes.entities import SPECS
from catalog.sync.changes.log import missing_event
from catalog.sync.context import SyncContext

MARK_BATCH = 500
# Entity -> model, in the order they are marked; the registry only in a full sync.
MLFLOW_MODELS = {"experiments": Experiment, "runs": Run, "logged_models": LoggedModel}
REGISTRY_MODELS = {"registered_models": RegisteredModel, "model_versions": ModelVersion}


def mark_missing(ctx: SyncContext) -> bool:
    """Mark every entity's unseen rows missing, or none at all; True when it marked.

    Nothing is marked when any listing was incomplete, or when any entity would lose
    more than ``max_missing_share`` of its present rows (MLflow answering "no
    experiments" looks exactly like a complete listing of nothing).
    """
    models = dict(MLFLOW_MODELS) if ctx.scope else {**MLFLOW_MODELS, **REGISTRY_MODELS}
    candidates: dict[str, tuple[type, list[int], int]] = {}
    for entity, model in models.items():
        table = ctx.tables.get(entity)
        if table is not None:
            candidates[entity] = (model, table.missing_candidates(), table.present_before())
    candidates["artifacts"] = (Artifact, ctx.artifact_missing, ctx.artifact_present_before)
    if ctx.incomplete:
        pending = sum(len(pks) for _, pks, _ in candidates.values())
        ctx.report.warn(
            f"incomplete listing ({', '.join(sorted(ctx.incomplete))}): "
            f"nothing marked missing ({pending} candidates)"
        )
        return False
    limit = ctx.options.max_missing_share
    tripped = [
        f"{entity} {len(pks)}/{present}"
        for entity, (_, pks, present) in candidates.items()
        if present and len(pks) / present > limit
    ]
    if tripped:
        ctx.report.status = "partial"
        ctx.report.warn(
            f"fail-safe: would mark more than {limit:.0%} missing ({'; '.join(tripped)}); "
            "nothing marked missing"
        )
        return False
    for entity, (model, pks, _) in candidates.items():
        for start in range(0, len(pks), MARK_BATCH):
            _mark_batch(ctx, entity, model, pks[start : start + MARK_BATCH])
        ctx.report.counts[entity].missing = len(pks)
    return True


def _mark_batch(ctx: SyncContext, entity: str, model: type, pks: list[int]) -> None:
    """Mark one batch missing, with its change events in the same transaction: one
    event per MLflow row, the artifacts summed per owner for the sync's summary."""
    with transaction.atomic():
        rows = model.objects.filter(pk__in=pks, missing_since__isnull=True)
        spec = SPECS.get(entity)
        if spec is not None:
            fields = rows.values("pk", *spec.key_fields, *spec.context_fields)
            ctx.changes.write(
                [
                    missing_event(
                        spec,
                        pk=row["pk"],
                        identity=spec.identify(row["pk"], spec.natural_key(row), row),
                    )
                    for row in fields
                ]
            )
        elif model is Artifact:
            for run_pk, model_pk, objects, size in gone_by_owner(pks):
                ctx.artifact_changes.gone(
                    run_pk=run_pk, model_pk=model_pk, objects=objects, size=size
                )
        rows.update(missing_since=ctx.now)


def keep_listing_ranges(ctx: SyncContext, *, marked: bool) -> None:
    """Store the walks' listing ranges for the next sync, or drop the stale ones.

    Only a sync that marked what it did not list leaves ranges to trust; and the next
    one trusts none after this (ADR 0015). Stale ones go.
    """
    if marked:
        save_ranges(ctx.walk_ranges, dropped=ctx.ranges_dropped)
        return
    stale = [(walk.bucket, walk.walk_prefix) for walk in ctx.walk_ranges if walk.wrote]
    save_ranges([], dropped=ctx.ranges_dropped + stale)
