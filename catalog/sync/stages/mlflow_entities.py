"""Stage 1: experiments, runs and logged models from MLflow into their rows.

Each entity is compared by fingerprint against its stored rows (``KeyedTable``) and
written in batches; a run whose metrics changed has its metric history (read a batch
of runs at a time: ``run_histories.py``) replaced in the same transaction as its row.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from catalog.models import Experiment, LoggedModel, MetricPoint, Run
from catalog.sync.bulk import IS_MISSING, insert_rows, iter_raw_rows
from catalog.sync.context import SyncContext
from catalog.sync.records import (
    ExperimentRecord,
    LoggedModelRecord,
    MetricRecord,
    RunRecord,
    SourceError,
)
from catalog.sync.report import SyncConfigurationError
from catalog.sync.stages.run_histories import runs_with_histories
from catalog.sync.upsert import finite, from_millis, non_finite_warning

METRIC_POINT_COLUMNS = ("run_id", "key", "step", "timestamp", "value")


def list_experiments(ctx: SyncContext) -> list[ExperimentRecord]:
    """MLflow's experiments (a limited sync's only); raises ``SourceError`` if unlisted.

    Nothing has been written when this raises: a sync that cannot list experiments
    fails as a whole.
    """
    ctx.progress("listing experiments")
    records = list(ctx.mlflow.iter_experiments())
    scope = ctx.scope
    if scope:
        unknown = sorted(scope - {record.experiment_id for record in records})
        if unknown:
            raise SyncConfigurationError(
                f"--experiment: MLflow has no experiment {', '.join(unknown)}"
            )
        records = [record for record in records if record.experiment_id in scope]
    return records


def sync_experiments(ctx: SyncContext, records: list[ExperimentRecord]) -> None:
    """Upsert the experiments; ``ctx.experiment_pks`` maps every experiment id to its pk."""
    rows = Experiment.objects.all()
    if ctx.scope:
        rows = rows.filter(experiment_id__in=ctx.scope)
    existing = existing_rows(rows, natural_key="experiment_id")
    # The catalogue's first sync records one summary event (catalog.sync.changes).
    ctx.changes.initial_import = (
        not Experiment.objects.exists() if ctx.scope and not existing else not existing
    )
    table = ctx.new_table(Experiment, "experiments", existing)
    for record in records:
        table.upsert(record.experiment_id, _experiment_values(record))
    table.flush()
    ctx.experiment_pks = dict(Experiment.objects.values_list("experiment_id", "pk"))


def sync_runs(ctx: SyncContext, experiment_ids: list[str]) -> None:
    """Upsert the runs of ``experiment_ids``, and the metric history of changed ones.

    A run's metrics signature says whether its history may have changed; a run whose
    history could not be read keeps an empty signature, so the next sync reads it again.
    """
    rows = Run.objects.all()
    if ctx.scope:
        rows = rows.filter(experiment__experiment_id__in=ctx.scope)
    rows = rows.annotate(gone=IS_MISSING).values_list(
        "pk", "run_id", "fingerprint", "gone", "metrics_signature"
    )
    existing = {
        run_id: (pk, digest, bool(missing), signature)
        for pk, run_id, digest, missing, signature in iter_raw_rows(rows, chunk_size=5000)
    }
    table = ctx.new_table(Run, "runs", existing)
    histories: dict[str, list[MetricRecord]] = {}

    def write_histories() -> None:
        if not histories:
            return
        # Only runs that had a row can have points: a new run's pk is new.
        run_pks = [table.pks[run_id] for run_id in histories if run_id in existing]
        if run_pks:
            MetricPoint.objects.filter(run_id__in=run_pks).delete()
        points = []
        for run_id, history in histories.items():
            run_pk = table.pks[run_id]
            unique = {(p.key, p.step, p.timestamp): p for p in history}
            points.extend(
                (run_pk, p.key, p.step, p.timestamp, finite(p.value)) for p in unique.values()
            )
        insert_rows(model=MetricPoint, columns=METRIC_POINT_COLUMNS, rows=points)
        histories.clear()

    # History is replaced in the same transaction as the run row that carries the new
    # metrics signature, so a killed sync never leaves a signature without its points.
    table.on_flush = write_histories
    ctx.progress("listing runs")

    def is_changed(run_id: str, signature: str) -> bool:
        old = existing.get(run_id)
        return old is None or old[3] != signature

    try:
        listed = runs_with_histories(
            ctx,
            ctx.mlflow.iter_runs(experiment_ids=experiment_ids),
            known_experiments=ctx.experiment_pks,
            is_changed=is_changed,
        )
        for record, signature, history in listed:
            experiment_pk = ctx.experiment_pks.get(record.experiment_id)
            if experiment_pk is None:
                ctx.report.warn(f"run {record.run_id}: unknown experiment")
                continue
            values = _run_values(record, experiment_pk=experiment_pk, signature=signature)
            if history is not None:
                histories[record.run_id] = history
            _warn_non_finite(ctx, f"run {record.run_id}", record.metrics, history or ())
            outcome = table.upsert(record.run_id, values)
            if outcome == "unchanged":
                histories.pop(record.run_id, None)
    except SourceError as error:
        ctx.source_failed("runs", error)
    table.flush()


def sync_logged_models(ctx: SyncContext, experiment_ids: list[str]) -> None:
    """Upsert the logged models of ``experiment_ids`` (MLflow 3), linked to their runs."""
    rows = LoggedModel.objects.all()
    if ctx.scope:
        rows = rows.filter(experiment__experiment_id__in=ctx.scope)
    table = ctx.new_table(LoggedModel, "logged_models", existing_rows(rows, natural_key="model_id"))
    run_index = ctx.run_index()
    ctx.progress("listing logged models")
    try:
        for record in ctx.mlflow.iter_logged_models(experiment_ids=experiment_ids):
            experiment_pk = ctx.experiment_pks.get(record.experiment_id)
            if experiment_pk is None:
                ctx.report.warn(f"logged model {record.model_id}: unknown experiment")
                continue
            run = run_index.get(record.source_run_id)
            values = _logged_model_values(
                record, experiment_pk=experiment_pk, run_pk=run.pk if run else None
            )
            warning = non_finite_warning(
                item=f"logged model {record.model_id}", values=record.metrics.items()
            )
            if warning:
                ctx.report.warn(warning)
            table.upsert(record.model_id, values)
    except SourceError as error:
        ctx.source_failed("logged_models", error)
    table.flush()


def existing_rows(rows, *, natural_key: str) -> dict:
    """Natural key -> (pk, fingerprint, is missing) of the rows a sync compares against."""
    rows = rows.annotate(gone=IS_MISSING).values_list("pk", natural_key, "fingerprint", "gone")
    return {
        key: (pk, digest, bool(missing))
        for pk, key, digest, missing in iter_raw_rows(rows, chunk_size=5000)
    }


def _warn_non_finite(ctx: SyncContext, item: str, *metric_lists: Iterable[MetricRecord]) -> None:
    pairs = ((metric.key, metric.value) for metrics in metric_lists for metric in metrics)
    warning = non_finite_warning(item=item, values=pairs)
    if warning:
        ctx.report.warn(warning)


def _experiment_values(record: ExperimentRecord) -> dict[str, Any]:
    return {
        "experiment_id": record.experiment_id,
        "name": record.name,
        "artifact_location": record.artifact_location,
        "lifecycle_stage": record.lifecycle_stage,
        "mlflow_description": record.description,
        "tags": record.tags,
        "creation_time": from_millis(record.creation_time),
        "last_update_time": from_millis(record.last_update_time),
    }


def _run_values(record: RunRecord, *, experiment_pk: int, signature: str) -> dict[str, Any]:
    return {
        "run_id": record.run_id,
        "experiment_id": experiment_pk,
        "name": record.name,
        "status": record.status,
        "lifecycle_stage": record.lifecycle_stage,
        "user_id": record.user_id,
        "start_time": from_millis(record.start_time),
        "end_time": from_millis(record.end_time),
        "artifact_uri": record.artifact_uri,
        "params": record.params,
        "metrics": {m.key: finite(m.value) for m in record.metrics},
        "metrics_signature": signature,
        "tags": record.tags,
    }


def _logged_model_values(
    record: LoggedModelRecord, *, experiment_pk: int, run_pk: int | None
) -> dict[str, Any]:
    return {
        "model_id": record.model_id,
        "experiment_id": experiment_pk,
        "name": record.name,
        "run_id": run_pk,
        "source_run_id": record.source_run_id,
        "status": record.status,
        "artifact_location": record.artifact_location,
        "tags": record.tags,
        "params": record.params,
        "metrics": {key: finite(value) for key, value in record.metrics.items()},
        "creation_time": from_millis(record.creation_time),
        "last_updated_time": from_millis(record.last_updated_time),
    }
