"""Stage 5: counters and flags derived from the rows, and the planner's statistics.

Pages read totals from these denormalised counters (never a COUNT per row), so a sync
that wrote rows recomputes them with a few GROUP BY queries and writes only the rows
whose totals moved. Totals are functions of the rows: a sync that wrote nothing after
one that finished skips them (at a million artifacts, seconds of GROUP BYs).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import Count, Sum

from catalog.models import (
    Artifact,
    Experiment,
    LoggedModel,
    MetricPoint,
    ModelVersion,
    RegisteredModel,
    Run,
)
from catalog.sync.bulk import update_rows
from catalog.sync.changes.catalogue import version_presence_events
from catalog.sync.context import SyncContext

LOOKUP_BATCH = 500
# Tables whose planner statistics a sync refreshes (PostgreSQL) when it changed at
# least ANALYZE_MIN_ROWS rows and a tenth of them; a run's metric points change with it.
STATISTICS_TABLES = {
    "experiments": (Experiment,),
    "runs": (Run, MetricPoint),
    "logged_models": (LoggedModel,),
    "artifacts": (Artifact,),
    "registered_models": (RegisteredModel,),
    "model_versions": (ModelVersion,),
}
ANALYZE_MIN_ROWS = 1000


def recompute_totals(ctx: SyncContext) -> None:
    """Artifact counts and bytes of runs, logged models and experiments; run counts;
    each version's "artifacts present" flag. Skipped when nothing can have moved them."""
    if ctx.totals_current and not ctx.write_statements:
        ctx.progress("recomputing totals: skipped, this sync wrote nothing")
        return
    ctx.progress("recomputing totals")
    present = Artifact.objects.filter(missing_since__isnull=True)
    _update_totals(Run, _artifact_totals(present, owner="run_id"))
    _update_totals(LoggedModel, _artifact_totals(present, owner="logged_model_id"))
    _update_experiment_totals()
    changed_versions = [
        (fresh, pk) for pk, flag, fresh in _versions_presence(present) if fresh != flag
    ]
    with transaction.atomic():
        # A version whose artifacts vanished (or came back) is an event of its own.
        ctx.changes.write(version_presence_events(changed_versions))
        update_rows(model=ModelVersion, columns=("artifacts_present",), rows=changed_versions)


def refresh_statistics(ctx: SyncContext) -> None:
    """PostgreSQL: ANALYZE the tables this sync changed a good share of.

    The planner picks index plans from table statistics; after a first sync they
    describe empty tables until autovacuum analyzes them, which can take a while, or
    never where autovacuum is off. With them stale, a 500-key lookup on the natural
    key scanned every row of its bucket (177 ms instead of ~10). A bulk load
    should be followed by ANALYZE; it samples, so it costs well under a second at a
    million rows. SQLite's planner works without statistics.
    """
    if connection.vendor != "postgresql" or ctx.options.dry_run:
        return
    tables = []
    for entity, models in STATISTICS_TABLES.items():
        counts = ctx.report.counts[entity]
        changed = counts.created + counts.updated + counts.restored + counts.missing
        if changed >= ANALYZE_MIN_ROWS and changed >= 0.1 * (changed + counts.unchanged):
            tables.extend(model._meta.db_table for model in models)
    if not tables:
        return
    ctx.progress(f"refreshing planner statistics of {len(tables)} tables")
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        # Table names come from the models' metadata.
        cursor.execute(f"ANALYZE {', '.join(quote(table) for table in tables)}")


def _artifact_totals(present, *, owner: str) -> dict[int, tuple[int, int]]:
    rows = (
        present.filter(**{f"{owner}__isnull": False})
        .values(owner)
        .annotate(n=Count("pk"), b=Sum("size"))
    )
    return {row[owner]: (row["n"], row["b"] or 0) for row in rows}


def _update_experiment_totals() -> None:
    per_experiment: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in (
        Run.objects.filter(missing_since__isnull=True)
        .values("experiment_id")
        .annotate(n=Count("pk"), a=Sum("artifact_count"), b=Sum("artifact_bytes"))
    ):
        per_experiment[row["experiment_id"]] = [row["n"], row["a"] or 0, row["b"] or 0]
    for row in (
        LoggedModel.objects.filter(missing_since__isnull=True)
        .values("experiment_id")
        .annotate(a=Sum("artifact_count"), b=Sum("artifact_bytes"))
    ):
        totals = per_experiment[row["experiment_id"]]
        totals[1] += row["a"] or 0
        totals[2] += row["b"] or 0
    changed = []
    for pk, run_count, artifact_count, artifact_bytes in Experiment.objects.values_list(
        "pk", "run_count", "artifact_count", "artifact_bytes"
    ):
        fresh = per_experiment.get(pk, [0, 0, 0])
        if [run_count, artifact_count, artifact_bytes] != fresh:
            changed.append((*fresh, pk))
    update_rows(
        model=Experiment, columns=("run_count", "artifact_count", "artifact_bytes"), rows=changed
    )


def _versions_presence(present) -> Iterable[tuple[int, bool | None, bool | None]]:
    """(pk, stored flag, fresh flag) of every version: is anything stored at its source?

    Through the owner's foreign key where the source names one (``runs:/``,
    ``models:/m-``): an indexed lookup, and no string range over keys, whose order
    depends on the database collation. Other sources are checked by key prefix.
    """
    versions = list(
        ModelVersion.objects.values_list(
            "pk", "artifacts_present", "artifact_bucket", "artifact_prefix", "source",
            "run_id", "logged_model_id",
        )
    )  # fmt: skip
    run_list = sorted({row[5] for row in versions if row[5] and row[4].startswith("runs:/")})
    folders: dict[int, set[str]] = defaultdict(set)
    for start in range(0, len(run_list), LOOKUP_BATCH):
        rows = (
            present.filter(run_id__in=run_list[start : start + LOOKUP_BATCH])
            .values_list("run_id", "folder")
            .distinct()
        )
        for run_pk, folder in rows:
            folders[run_pk].add(folder)
    model_pks = set(
        present.filter(logged_model__isnull=False)
        .values_list("logged_model_id", flat=True)
        .distinct()
    )
    for pk, flag, bucket, prefix, source, run_pk, model_pk in versions:
        if not (bucket and prefix):
            yield pk, flag, None
        elif run_pk and source.startswith("runs:/"):
            path = source[len("runs:/") :].lstrip("/").partition("/")[2].strip("/")
            run_folders = folders.get(run_pk, set())
            yield (
                pk,
                flag,
                any(
                    not path or folder == path or folder.startswith(f"{path}/")
                    for folder in run_folders
                ),
            )
        elif model_pk and source.startswith("models:/m-"):
            yield pk, flag, model_pk in model_pks
        else:
            yield pk, flag, present.filter(bucket=bucket, key__startswith=prefix).exists()


def _update_totals(model: type, totals: dict[int, tuple[int, int]]) -> None:
    changed = []
    for pk, count, size in model.objects.values_list(
        "pk", "artifact_count", "artifact_bytes"
    ).iterator(chunk_size=10000):
        fresh = totals.get(pk, (0, 0))
        if (count, size) != fresh:
            changed.append((fresh[0], fresh[1], pk))
    with transaction.atomic():
        update_rows(model=model, columns=("artifact_count", "artifact_bytes"), rows=changed)
