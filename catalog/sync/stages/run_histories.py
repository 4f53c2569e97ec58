"""The metric histories of the runs a sync finds changed, read a batch of runs at a time.

``sync_runs`` (``stages/mlflow_entities.py``) walks MLflow's runs through
``runs_with_histories``: runs are held back in batches, and for the changed ones of a
batch (a run whose metrics signature differs from the stored one, or a new run) each
metric key is asked of the source once, for all of them
(``MlflowSourceLike.metric_histories``). On MLflow that is one bulk request per key and
100 runs instead of one per run and key; a no-change sync asks nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator

from catalog.sync.context import SyncContext
from catalog.sync.records import MetricRecord, RunRecord, SourceError
from catalog.sync.upsert import fingerprint, finite

# A batch ends at this many changed runs (one MLflow bulk call per key) ...
HISTORY_BATCH_RUNS = 100
# ... or at this many listed runs, so unchanged runs are not held back for long.
LISTED_BATCH_RUNS = 1000

# (record, metrics signature to store, history); the history is None for a run whose
# history was not asked for, and for one whose history could not be read (its
# signature is then "", so the next sync asks again).
ListedRun = tuple[RunRecord, str, list[MetricRecord] | None]


def metrics_signature(metrics: tuple[MetricRecord, ...]) -> str:
    """A digest of a run's latest metrics: when it changes, so may the history."""
    if not metrics:
        return ""
    return fingerprint([[m.key, finite(m.value), m.step, m.timestamp] for m in metrics])


def runs_with_histories(
    ctx: SyncContext,
    records: Iterable[RunRecord],
    *,
    known_experiments: Collection[str],
    is_changed: Callable[[str, str], bool],
) -> Iterator[ListedRun]:
    """Each listed run with its signature and, where ``is_changed(run_id, signature)``,
    its metric history; in the order listed.

    A run of an experiment not in ``known_experiments`` gets neither (the stage skips
    it). When the listing breaks off, the runs listed before the break are still
    yielded, with their histories, before the ``SourceError`` is raised again.
    """
    batch: list[tuple[RunRecord, str, bool]] = []
    changed = 0
    try:
        for record in records:
            if record.experiment_id not in known_experiments:
                batch.append((record, "", False))
            else:
                signature = metrics_signature(record.metrics)
                wanted = is_changed(record.run_id, signature)
                batch.append((record, signature, wanted))
                changed += wanted
            if changed >= HISTORY_BATCH_RUNS or len(batch) >= LISTED_BATCH_RUNS:
                yield from _with_histories(ctx, batch)
                batch, changed = [], 0
    except SourceError:
        yield from _with_histories(ctx, batch)
        raise
    yield from _with_histories(ctx, batch)


def _with_histories(
    ctx: SyncContext, batch: list[tuple[RunRecord, str, bool]]
) -> Iterator[ListedRun]:
    histories = read_histories(ctx, [record for record, _, wanted in batch if wanted])
    for record, signature, wanted in batch:
        if not wanted:
            yield record, signature, None
            continue
        history = histories[record.run_id]
        yield record, signature if history is not None else "", history


def read_histories(
    ctx: SyncContext, records: list[RunRecord]
) -> dict[str, list[MetricRecord] | None]:
    """Run id -> every point of every metric of that run (None: not read, with a warning).

    One ``metric_histories`` call per metric key for all the runs that have it. A call
    that fails for several runs is retried run by run, so one run the source cannot
    read costs only its own history. A run's points come in the order of its metrics,
    as a run-by-run read would give them.
    """
    runs_by_key: dict[str, dict[str, None]] = {}
    for record in records:
        for metric in record.metrics:
            runs_by_key.setdefault(metric.key, {})[record.run_id] = None
    read: dict[tuple[str, str], list[MetricRecord]] = {}
    failed: dict[str, str] = {}  # run id -> why its history was not read
    for key, run_ids in runs_by_key.items():
        asked = [run_id for run_id in run_ids if run_id not in failed]
        if asked:
            _read_key(ctx, key=key, run_ids=asked, read=read, failed=failed)
    histories: dict[str, list[MetricRecord] | None] = {}
    for record in records:
        run_id = record.run_id
        if run_id in failed:
            histories[run_id] = None
            continue
        points: list[MetricRecord] = []
        for metric in record.metrics:
            points.extend(read[(run_id, metric.key)])
        histories[run_id] = points
    for run_id, reason in failed.items():
        ctx.report.warn(f"run {run_id}: metric history not read: {reason}")
    return histories


def _read_key(
    ctx: SyncContext,
    *,
    key: str,
    run_ids: list[str],
    read: dict[tuple[str, str], list[MetricRecord]],
    failed: dict[str, str],
) -> None:
    try:
        histories = ctx.mlflow.metric_histories(run_ids=run_ids, key=key)
    except SourceError as error:
        if len(run_ids) == 1:
            failed[run_ids[0]] = str(error)
            return
        for run_id in run_ids:
            _read_key(ctx, key=key, run_ids=[run_id], read=read, failed=failed)
        return
    for run_id in run_ids:
        history = histories.get(run_id)
        if history is None:
            failed[run_id] = f"the source returned no history of {key}"
        else:
            read[(run_id, key)] = history
