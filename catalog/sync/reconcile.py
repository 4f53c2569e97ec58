"""Reconcile: the only writer of synced fields.

``reconcile(mlflow_source=..., s3_source=..., options=...)`` reads the two sources (any
objects with the methods of ``MlflowSource`` / ``S3Source``, so tests and benchmarks can
hand in in-memory streams), compares each record's fingerprint with the row's, writes
only what changed in batches, marks missing by set difference, recomputes the
aggregates with a few GROUP BY queries and returns a ``SyncReport``.

Order: experiments, runs (with metric history of changed runs), logged models, the S3
walk (artifacts and their parsed content: each walk matched in ``bucket_walk``, its
writes batched by ``artifact_queue``), the registry, then missing-marking (all or
nothing: see the fail-safe in ``_mark_missing``), then aggregates.

``last_seen`` is written with the row: a row that did not change keeps its old
``last_seen``, since a no-change sync writes nothing. A row with ``missing_since``
null was present at the last complete sync.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from catalog.models import (
    Artifact,
    Experiment,
    LoggedModel,
    MetricPoint,
    ModelVersion,
    RegisteredModel,
    Run,
)
from catalog.sync.artifact_queue import ArtifactQueue
from catalog.sync.bucket_walk import BucketWalk, Owner
from catalog.sync.bulk import (
    IS_MISSING,
    insert_rows,
    iter_raw_rows,
    update_rows,
)
from catalog.sync.categories import infer_category
from catalog.sync.collector import collector_paused
from catalog.sync.content_reads import ContentReader
from catalog.sync.layout import (
    can_hold_keys,
    experiment_walk_root,
    folder_prefix,
    merge_roots,
    parse_s3_uri,
    prefixes_overlap,
    resolve_artifact_uri,
    version_source_prefix,
)
from catalog.sync.listing_ranges import WalkRanges, load_ranges, rows_agree, save_ranges
from catalog.sync.prefetch import prefetched
from catalog.sync.records import (
    ExperimentRecord,
    LoggedModelRecord,
    MetricRecord,
    ModelVersionRecord,
    RegisteredModelRecord,
    RunRecord,
    S3Root,
    SourceError,
)
from catalog.sync.report import (
    SyncConfigurationError,
    SyncOptions,
    SyncReport,
)
from catalog.sync.text_limits import CleanMlflowSource
from catalog.sync.upsert import KeyedTable, fingerprint, finite, from_millis, non_finite_warning
from catalog.sync.writer import ArtifactWriter

WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "COPY")
METRIC_POINT_COLUMNS = ("run_id", "key", "step", "timestamp", "value")
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
# Listed records handed from the listing thread to the artifact stage at a time.
LISTING_CHUNK = 1000


@dataclass
class _Walk:
    root: S3Root  # the group root (orphan folders are relative to it)
    prefix: str  # the listed prefix (the root's, or narrower in a limited sync)


class Reconciler:
    """One sync's state; use ``reconcile()``."""

    def __init__(
        self,
        *,
        mlflow_source: Any,
        s3_source: Any,
        options: SyncOptions,
        totals_current: bool = False,
        ranges_current: bool = False,
    ) -> None:
        self.options = options
        self.report = SyncReport(dry_run=options.dry_run)
        # Every MLflow record is fitted for both databases before it becomes a row.
        self.mlflow = CleanMlflowSource(mlflow_source, warn=self.report.warn)
        self.s3 = s3_source
        self.now = timezone.now()
        self.incomplete: set[str] = set()
        self.scope = set(options.experiment_ids)
        self.experiment_pks: dict[str, int] = {}
        self.experiment_locations: dict[str, str] = {}
        self.run_table: KeyedTable | None = None
        self.lm_table: KeyedTable | None = None
        self.rm_table: KeyedTable | None = None
        self.mv_table: KeyedTable | None = None
        self.exp_table: KeyedTable | None = None
        self.artifact_missing: list[int] = []
        self._runs: dict[str, tuple[int, int, str, bool]] | None = None
        self.artifact_present_before = 0
        self.totals_current = totals_current
        # The stored listing ranges hold (the previous sync ended ok): see
        # catalog.sync.listing_ranges. The walks' ranges for the next sync, and the
        # walks whose stored ranges no longer hold.
        self.ranges_current = ranges_current
        self.walk_ranges: list[WalkRanges] = []
        self.ranges_dropped: list[tuple[str, str]] = []
        self.write_statements = 0

    # --- helpers -----------------------------------------------------------------------

    def _write_counter(self, execute, sql, params, many, context):
        """An execute wrapper counting the statements that change rows."""
        if sql.lstrip()[:6].upper().startswith(WRITE_VERBS):
            self.write_statements += 1
        return execute(sql, params, many, context)

    def _progress(self, message: str) -> None:
        if self.options.progress is not None:
            self.options.progress(message)

    def _source_failed(self, entity: str, error: Exception) -> None:
        self.incomplete.add(entity)
        self.report.warn(f"{entity}: {error}")

    def _table(self, model: type, entity: str, existing: dict) -> KeyedTable:
        return KeyedTable(
            model=model,
            counts=self.report.counts[entity],
            now=self.now,
            batch_size=self.options.batch_size,
            existing=existing,
        )

    # --- the steps ---------------------------------------------------------------------

    def run(self) -> SyncReport:
        experiments = self._list_experiments()  # raises SourceError: nothing written yet
        walks = self._walk_plan(experiments)
        # S3 is listed from here on, a bounded stretch ahead of the artifact stage, while
        # the runs are listed from MLflow: two services, two waits at once (see
        # _listing_ahead). Closing the listing stops its thread whatever happens.
        listing = self._listing_ahead(walks)
        try:
            with connection.execute_wrapper(self._write_counter):
                self._sync_experiments(experiments)
                listed_ids = [record.experiment_id for record in experiments]
                self._sync_runs(listed_ids)
                self._sync_logged_models(listed_ids)
                self._sync_artifacts(walks, listing)
        finally:
            listing.close()
        with connection.execute_wrapper(self._write_counter):
            self._sync_registry()
            if self._mark_missing():
                save_ranges(self.walk_ranges, dropped=self.ranges_dropped)
            else:
                # Only a sync that marked what it did not list leaves ranges to trust;
                # and the next one trusts none after this (ADR 0015). Stale ones go.
                stale = [(walk.bucket, walk.walk_prefix) for walk in self.walk_ranges if walk.wrote]
                save_ranges([], dropped=self.ranges_dropped + stale)
        if self.totals_current and not self.write_statements:
            # Totals are functions of the rows; rows that were not written can't have
            # moved them. At a million artifacts this skips seconds of GROUP BYs.
            self._progress("recomputing totals: skipped, this sync wrote nothing")
        else:
            self._recompute_aggregates()
        self._refresh_statistics()
        if self.incomplete and self.report.status == "ok":
            self.report.status = "partial"
        return self.report

    def _refresh_statistics(self) -> None:
        """PostgreSQL: ANALYZE the tables this sync changed a good share of.

        The planner picks index plans from table statistics; after a first sync they
        describe empty tables until autovacuum analyzes them, which can take a while, or
        never where autovacuum is off. With them stale, a 500-key lookup on the natural
        key scanned every row of its bucket (177 ms instead of ~10). A bulk load
        should be followed by ANALYZE; it samples, so it costs well under a second at a
        million rows. SQLite's planner works without statistics.
        """
        if connection.vendor != "postgresql" or self.options.dry_run:
            return
        tables = []
        for entity, models in STATISTICS_TABLES.items():
            counts = self.report.counts[entity]
            changed = counts.created + counts.updated + counts.restored + counts.missing
            if changed >= ANALYZE_MIN_ROWS and changed >= 0.1 * (changed + counts.unchanged):
                tables.extend(model._meta.db_table for model in models)
        if not tables:
            return
        self._progress(f"refreshing planner statistics of {len(tables)} tables")
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            # Table names come from the models' metadata.
            cursor.execute(f"ANALYZE {', '.join(quote(table) for table in tables)}")

    def _list_experiments(self) -> list[ExperimentRecord]:
        self._progress("listing experiments")
        records = list(self.mlflow.iter_experiments())
        if self.scope:
            known = {record.experiment_id for record in records}
            unknown = sorted(self.scope - known)
            if unknown:
                raise SyncConfigurationError(
                    f"--experiment: MLflow has no experiment {', '.join(unknown)}"
                )
            records = [record for record in records if record.experiment_id in self.scope]
        return records

    def _sync_experiments(self, records: list[ExperimentRecord]) -> None:
        rows = Experiment.objects.all()
        if self.scope:
            rows = rows.filter(experiment_id__in=self.scope)
        existing = _existing_rows(rows, natural_key="experiment_id")
        table = self.exp_table = self._table(Experiment, "experiments", existing)
        for record in records:
            table.upsert(record.experiment_id, _experiment_values(record))
            self.experiment_locations[record.experiment_id] = record.artifact_location
        table.flush()
        self.experiment_pks = dict(Experiment.objects.values_list("experiment_id", "pk"))

    def _sync_runs(self, experiment_ids: list[str]) -> None:
        rows = Run.objects.all()
        if self.scope:
            rows = rows.filter(experiment__experiment_id__in=self.scope)
        rows = rows.annotate(gone=IS_MISSING).values_list(
            "pk", "run_id", "fingerprint", "gone", "metrics_signature"
        )
        existing = {
            run_id: (pk, digest, bool(missing), signature)
            for pk, run_id, digest, missing, signature in iter_raw_rows(rows, chunk_size=5000)
        }
        table = self.run_table = self._table(Run, "runs", existing)
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
        self._progress("listing runs")
        try:
            for record in self.mlflow.iter_runs(experiment_ids=experiment_ids):
                experiment_pk = self.experiment_pks.get(record.experiment_id)
                if experiment_pk is None:
                    self.report.warn(f"run {record.run_id}: unknown experiment")
                    continue
                signature = _metrics_signature(record.metrics)
                old = existing.get(record.run_id)
                history: list[MetricRecord] | None = None
                if old is None or old[3] != signature:
                    history = self._fetch_history(record)
                    if history is None:
                        signature = ""  # refetch next time
                values = _run_values(record, experiment_pk=experiment_pk, signature=signature)
                if history is not None:
                    histories[record.run_id] = history
                self._warn_non_finite(f"run {record.run_id}", record.metrics, history or ())
                outcome = table.upsert(record.run_id, values)
                if outcome == "unchanged":
                    histories.pop(record.run_id, None)
        except SourceError as error:
            self._source_failed("runs", error)
        table.flush()

    def _warn_non_finite(self, item: str, *metric_lists: Iterable[MetricRecord]) -> None:
        pairs = ((metric.key, metric.value) for metrics in metric_lists for metric in metrics)
        warning = non_finite_warning(item=item, values=pairs)
        if warning:
            self.report.warn(warning)

    def _fetch_history(self, record: RunRecord) -> list[MetricRecord] | None:
        points: list[MetricRecord] = []
        try:
            for metric in record.metrics:
                points.extend(self.mlflow.metric_history(run_id=record.run_id, key=metric.key))
        except SourceError as error:
            self.report.warn(f"run {record.run_id}: metric history not read: {error}")
            return None
        return points

    def _sync_logged_models(self, experiment_ids: list[str]) -> None:
        rows = LoggedModel.objects.all()
        if self.scope:
            rows = rows.filter(experiment__experiment_id__in=self.scope)
        existing = _existing_rows(rows, natural_key="model_id")
        table = self.lm_table = self._table(LoggedModel, "logged_models", existing)
        run_pks = self._run_pks()
        self._progress("listing logged models")
        try:
            for record in self.mlflow.iter_logged_models(experiment_ids=experiment_ids):
                experiment_pk = self.experiment_pks.get(record.experiment_id)
                if experiment_pk is None:
                    self.report.warn(f"logged model {record.model_id}: unknown experiment")
                    continue
                values = _logged_model_values(
                    record, experiment_pk=experiment_pk, run_pk=run_pks.get(record.source_run_id)
                )
                warning = non_finite_warning(
                    item=f"logged model {record.model_id}", values=record.metrics.items()
                )
                if warning:
                    self.report.warn(warning)
                table.upsert(record.model_id, values)
        except SourceError as error:
            self._source_failed("logged_models", error)
        table.flush()

    def _run_pks(self) -> dict[str, int]:
        return {run_id: row[0] for run_id, row in self._run_index().items()}

    def _run_index(self) -> dict[str, tuple[int, int, str, bool]]:
        """run_id -> (pk, experiment pk, artifact URI, missing), read once after the runs
        step (later steps don't change runs until missing-marking)."""
        if self._runs is None:
            rows = Run.objects.annotate(gone=IS_MISSING).values_list(
                "run_id", "pk", "experiment_id", "artifact_uri", "gone"
            )
            self._runs = {
                run_id: (pk, experiment_pk, uri, bool(missing))
                for run_id, pk, experiment_pk, uri, missing in iter_raw_rows(rows, chunk_size=10000)
            }
        return self._runs

    # --- S3 ----------------------------------------------------------------------------

    def _walk_plan(self, experiments: list[ExperimentRecord]) -> list[_Walk]:
        """The walks, grouped by bucket (the artifact stage takes a bucket at a time)."""
        by_bucket: dict[str, list[_Walk]] = defaultdict(list)
        for walk in self._walks(experiments):
            if not can_hold_keys(walk.prefix):
                # Nothing can be listed there, and the prefix fits no column of ours.
                shown = repr(walk.prefix[:200])[1:-1]
                self.report.warn(
                    f"s3://{walk.root.bucket}/{shown}...: a prefix of "
                    f"{len(walk.prefix.encode()):,} bytes, which no S3 key (1,024 bytes at "
                    "most) extends; not walked"
                )
                continue
            by_bucket[walk.root.bucket].append(walk)
        return [walk for bucket_walks in by_bucket.values() for walk in bucket_walks]

    def _walks(self, experiments: list[ExperimentRecord]) -> list[_Walk]:
        destination = self.options.artifacts_destination
        walks: list[_Walk] = []
        if self.scope:
            # A limited sync lists only its experiments' folders, but groups orphans
            # as a full sync would (relative to the bucket root) so rows stay stable.
            for record in experiments:
                location = resolve_artifact_uri(
                    record.artifact_location, artifacts_destination=destination
                )
                if location is None:
                    continue
                root = experiment_walk_root(location)
                walks.append(_Walk(root=root, prefix=folder_prefix(location[1])))
            return walks
        roots = []
        for record in experiments:
            location = resolve_artifact_uri(
                record.artifact_location, artifacts_destination=destination
            )
            if location is None:
                if record.artifact_location:
                    self.report.warn(
                        f"experiment {record.experiment_id}: artifact location "
                        f"{record.artifact_location!r} is not on S3; not walked"
                    )
                continue
            roots.append(experiment_walk_root(location))
        for uri in self.options.extra_roots:
            parsed = parse_s3_uri(uri)
            if parsed is None:
                raise SyncConfigurationError(f"CATALOG_S3_ROOTS: {uri!r} is not an s3:// URI")
            roots.append(S3Root(bucket=parsed[0], prefix=folder_prefix(parsed[1])))
        return [_Walk(root=root, prefix=root.prefix) for root in merge_roots(roots)]

    def _owner_prefixes(self) -> dict[str, dict[str, Owner]]:
        """bucket -> {".../artifacts/" prefix: (run pk, logged model pk)} of known owners."""
        destination = self.options.artifacts_destination
        gone_runs = set(self.run_table.missing_candidates()) if self._mlflow_complete() else set()
        gone_models = set(self.lm_table.missing_candidates()) if self._mlflow_complete() else set()
        owners: dict[str, dict[str, Owner]] = defaultdict(dict)
        for pk, _, uri, missing in self._run_index().values():
            if missing:
                continue
            location = resolve_artifact_uri(uri, artifacts_destination=destination)
            if location is not None and pk not in gone_runs:
                owners[location[0]][folder_prefix(location[1])] = (pk, None)
        models = LoggedModel.objects.filter(missing_since__isnull=True).values_list(
            "pk", "artifact_location"
        )
        for pk, uri in models:
            location = resolve_artifact_uri(uri, artifacts_destination=destination)
            if location is not None and pk not in gone_models:
                owners[location[0]][folder_prefix(location[1])] = (None, pk)
        return owners

    def _mlflow_complete(self) -> bool:
        return not ({"experiments", "runs", "logged_models"} & self.incomplete)

    def _listing_ahead(self, walks: list[_Walk]) -> Iterator[tuple[str, Any]]:
        """Every walk's records, listed on a thread up to ``list_ahead`` chunks ahead.

        Items are ("records", [ArtifactRecord | SkippedKey, ...]) chunks, and per walk
        one ("end", None) or ("error", SourceError). Bounded: at most ``list_ahead``
        chunks of ``LISTING_CHUNK`` records wait (``list_ahead`` 0: listed inline, as
        the artifact stage asks).
        """
        return prefetched(
            self._list_walks(walks), depth=self.options.list_ahead, name="sync-listing"
        )

    def _list_walks(self, walks: list[_Walk]) -> Iterator[tuple[str, Any]]:
        for walk in walks:
            chunk: list[Any] = []
            try:
                for record in self.s3.iter_root(
                    root=S3Root(bucket=walk.root.bucket, prefix=walk.prefix)
                ):
                    chunk.append(record)
                    if len(chunk) >= LISTING_CHUNK:
                        yield "records", chunk
                        chunk = []
            except SourceError as error:
                if chunk:
                    yield "records", chunk
                yield "error", error
                continue
            if chunk:
                yield "records", chunk
            yield "end", None

    @staticmethod
    def _walk_records(listing: Iterator[tuple[str, Any]]) -> Iterator[Any]:
        """One walk's records from the shared listing; its listing error, raised."""
        for kind, value in listing:
            if kind == "records":
                yield from value
            elif kind == "error":
                raise value
            else:
                return

    def _sync_artifacts(self, walks: list[_Walk], listing: Iterator[tuple[str, Any]]) -> None:
        self._progress("walking S3: planning the roots")
        owners = self._owner_prefixes()
        # The run index is read again after the walk: the walk's own map is the one
        # thing that should grow with the bucket.
        self._runs = None
        by_bucket: dict[str, list[_Walk]] = defaultdict(list)
        for walk in walks:
            by_bucket[walk.root.bucket].append(walk)
        with (
            ContentReader(
                s3=self.s3,
                workers=self.options.read_workers,
                process_min_batch=self.options.parse_process_min_batch,
            ) as reader,
            ArtifactWriter(process_min_rows=self.options.writer_process_min_rows) as writer,
        ):
            for bucket, bucket_walks in by_bucket.items():
                owners_here = owners.get(bucket, {})
                self._sync_bucket(bucket, bucket_walks, owners_here, reader, writer, listing)
            # Every batch written before the registry and the missing-marking read them.
            writer.finish()
        self.report.rows_written_by_writer_process = writer.rows_written_in_process

    def _sync_bucket(
        self,
        bucket: str,
        walks: list[_Walk],
        owners: dict[str, Owner],
        reader: ContentReader,
        writer: ArtifactWriter,
        listing: Iterator[tuple[str, Any]],
    ) -> None:
        counts = self.report.counts["artifacts"]
        artifacts = ArtifactQueue(
            bucket=bucket,
            reader=reader,
            writer=writer,
            report=self.report,
            now=self.now,
            batch_size=self.options.batch_size,
        )
        bucket_walk = BucketWalk(bucket=bucket, owners=owners, queue=artifacts, report=self.report)
        for index, walk in enumerate(walks):
            if any(prefixes_overlap(walk.prefix, earlier.prefix) for earlier in walks[:index]):
                # An earlier walk listed some of these keys (a limited sync whose
                # experiment folders nest): its batches must be in the table before
                # this walk reads the rows, or it would insert them a second time.
                artifacts.write_waiting()
                writer.finish()
            self._progress(f"listing s3://{bucket}/{walk.prefix}")
            writes_before = counts.created + counts.updated + counts.restored
            stored_ranges = (
                load_ranges(bucket=bucket, walk_prefix=walk.prefix) if self.ranges_current else []
            )
            trusted = bool(stored_ranges) and rows_agree(
                bucket=bucket, walk_prefix=walk.prefix, ranges=stored_ranges
            )
            result = bucket_walk.walk(
                root=walk.root,
                prefix=walk.prefix,
                records=self._walk_records(listing),
                trusted_ranges=stored_ranges if trusted else None,
            )
            if result.error is not None:
                self._source_failed("artifacts", result.error)
            artifacts.flush()
            counts.unchanged += result.unchanged
            self.artifact_present_before += result.present
            if not result.listed_all:
                self.ranges_dropped.append((bucket, walk.prefix))
                continue
            self.artifact_missing.extend(result.missing)
            if not result.in_order:
                # Ranges cut from a listing out of key order would not partition it.
                self.ranges_dropped.append((bucket, walk.prefix))
                continue
            wrote = bool(result.missing) or (
                counts.created + counts.updated + counts.restored != writes_before
            )
            self.walk_ranges.append(
                WalkRanges(
                    bucket=bucket,
                    walk_prefix=walk.prefix,
                    ranges=result.ranges,
                    replaced=result.replaced,
                    wrote=wrote,
                )
            )
        artifacts.write_waiting()
        # Counted here: the writer process's statements pass no wrapper of ours.
        self.write_statements += artifacts.statements

    # --- the registry ------------------------------------------------------------------

    def _sync_registry(self) -> None:
        self._progress("listing the model registry")
        models: list[RegisteredModelRecord] = []
        versions: list[ModelVersionRecord] = []
        try:
            models = list(self.mlflow.iter_registered_models())
        except SourceError as error:
            self._source_failed("registered_models", error)
            self.incomplete.add("model_versions")
            return
        try:
            versions = list(self.mlflow.iter_model_versions())
        except SourceError as error:
            self._source_failed("model_versions", error)
        model_names = {model.name for model in models}
        versions_by_model: dict[str, list[ModelVersionRecord]] = defaultdict(list)
        for version in versions:
            if version.model_name in model_names:
                versions_by_model[version.model_name].append(version)

        runs = self._run_index()
        logged = {
            model_id: (pk, experiment_pk, uri)
            for model_id, pk, experiment_pk, uri in LoggedModel.objects.values_list(
                "model_id", "pk", "experiment_id", "artifact_location"
            )
        }
        destination = self.options.artifacts_destination

        def resolved(uri: str | None) -> tuple[str, str] | None:
            if not uri:
                return None
            location = resolve_artifact_uri(uri, artifacts_destination=destination)
            return None if location is None else (location[0], folder_prefix(location[1]))

        version_rows: dict[tuple[str, int], dict[str, Any]] = {}
        for record in versions:
            if record.model_name not in model_names:
                continue
            run = runs.get(record.run_id)
            model_id = record.model_id or (
                record.source[len("models:/") :] if record.source.startswith("models:/m-") else ""
            )
            logged_model = logged.get(model_id)
            location = version_source_prefix(
                source=record.source,
                run_prefix=resolved(run[2]) if run else None,
                logged_model_prefix=resolved(logged_model[2]) if logged_model else None,
                artifacts_destination=destination,
            )
            version_rows[(record.model_name, record.version)] = {
                "record": record,
                "run": run,
                "logged_model": logged_model,
                "location": location,
            }
        flavors = self._mlmodel_flavors(
            [row["location"] for row in version_rows.values() if row["location"]]
        )

        existing = _existing_rows(RegisteredModel.objects.all(), natural_key="name")
        table = self.rm_table = self._table(RegisteredModel, "registered_models", existing)
        for model in models:
            model_versions = versions_by_model.get(model.name, [])
            latest = max(model_versions, key=lambda v: v.version, default=None)
            latest_row = version_rows.get((model.name, latest.version)) if latest else None
            experiment_pk = None
            latest_flavors: list[str] = []
            if latest_row is not None:
                owner = latest_row["run"] or latest_row["logged_model"]
                experiment_pk = owner[1] if owner else None
                if latest_row["location"]:
                    latest_flavors = flavors.get(latest_row["location"], [])
            category = infer_category(
                name=model.name,
                tags=model.tags,
                version_tags=latest.tags if latest else None,
                flavors=latest_flavors,
            )
            table.upsert(
                model.name,
                {
                    "name": model.name,
                    "mlflow_description": model.description,
                    "tags": model.tags,
                    "aliases": dict(sorted(model.aliases.items())),
                    "creation_time": from_millis(model.creation_time),
                    "last_updated_time": from_millis(model.last_updated_time),
                    "category": category,
                    "latest_version": latest.version if latest else None,
                    "experiment_id": experiment_pk,
                },
            )
        table.flush()

        aliases_of: dict[tuple[str, int], list[str]] = defaultdict(list)
        for model in models:
            for alias, version in model.aliases.items():
                aliases_of[(model.name, version)].append(alias)
        existing_versions = {
            (name, version): (pk, digest, missing is not None)
            for pk, name, version, digest, missing in ModelVersion.objects.values_list(
                "pk", "registered_model__name", "version", "fingerprint", "missing_since"
            )
        }
        vtable = self.mv_table = self._table(ModelVersion, "model_versions", existing_versions)
        for natural_key, row in version_rows.items():
            record: ModelVersionRecord = row["record"]
            location = row["location"]
            vtable.upsert(
                natural_key,
                {
                    "registered_model_id": table.pks[record.model_name],
                    "version": record.version,
                    "source": record.source,
                    "run_id": row["run"][0] if row["run"] else None,
                    "source_run_id": record.run_id,
                    "logged_model_id": row["logged_model"][0] if row["logged_model"] else None,
                    "status": record.status,
                    "stage": record.stage,
                    "aliases": sorted(aliases_of.get(natural_key, [])),
                    "tags": record.tags,
                    "mlflow_description": record.description,
                    "creation_time": from_millis(record.creation_time),
                    "last_updated_time": from_millis(record.last_updated_time),
                    "artifact_bucket": location[0] if location else "",
                    "artifact_prefix": location[1] if location else "",
                },
            )
        vtable.flush()

    def _mlmodel_flavors(self, locations: Iterable[tuple[str, str]]) -> dict:
        wanted = {(bucket, f"{prefix}MLmodel"): (bucket, prefix) for bucket, prefix in locations}
        if not wanted:
            return {}
        found: dict[tuple[str, str], list[str]] = {}
        keys_by_bucket: dict[str, list[str]] = defaultdict(list)
        for bucket, key in wanted:
            keys_by_bucket[bucket].append(key)
        for bucket, keys in keys_by_bucket.items():
            for start in range(0, len(keys), 500):
                # bucket and key together: the natural-key index; key alone scans the table.
                # "Missing" is read, not filtered on: with statistics not yet updated
                # after a big first sync, PostgreSQL otherwise bitmap-scans the
                # missing_since index over every present row (3.5 s a sync at 1M rows).
                rows = (
                    Artifact.objects.filter(bucket=bucket, key__in=keys[start : start + 500])
                    .annotate(gone=IS_MISSING)
                    .values_list("key", "meta", "gone")
                )
                for key, meta, gone in rows:
                    if not gone and isinstance(meta, dict):
                        found[wanted[(bucket, key)]] = list(meta.get("flavors") or [])
        return found

    # --- missing -----------------------------------------------------------------------

    def _mark_missing(self) -> bool:
        """All or nothing: mark every entity's unseen rows missing, or none at all.

        Nothing is marked when any listing was incomplete, or when any entity would lose
        more than ``max_missing_share`` of its present rows (MLflow answering "no
        experiments" looks exactly like a complete listing of nothing). True when it
        marked (every candidate, possibly none).
        """
        candidates: dict[str, tuple[type, list[int], int]] = {}
        tables = {
            "experiments": (Experiment, self.exp_table),
            "runs": (Run, self.run_table),
            "logged_models": (LoggedModel, self.lm_table),
        }
        if not self.scope:
            tables["registered_models"] = (RegisteredModel, self.rm_table)
            tables["model_versions"] = (ModelVersion, self.mv_table)
        for entity, (model, table) in tables.items():
            if table is not None:
                candidates[entity] = (model, table.missing_candidates(), table.present_before())
        candidates["artifacts"] = (Artifact, self.artifact_missing, self.artifact_present_before)
        if self.incomplete:
            pending = sum(len(pks) for _, pks, _ in candidates.values())
            self.report.warn(
                f"incomplete listing ({', '.join(sorted(self.incomplete))}): "
                f"nothing marked missing ({pending} candidates)"
            )
            return False
        limit = self.options.max_missing_share
        tripped = [
            f"{entity} {len(pks)}/{present}"
            for entity, (_, pks, present) in candidates.items()
            if present and len(pks) / present > limit
        ]
        if tripped:
            self.report.status = "partial"
            self.report.warn(
                f"fail-safe: would mark more than {limit:.0%} missing ({'; '.join(tripped)}); "
                "nothing marked missing"
            )
            return False
        for entity, (model, pks, _) in candidates.items():
            for start in range(0, len(pks), 500):
                model.objects.filter(
                    pk__in=pks[start : start + 500], missing_since__isnull=True
                ).update(missing_since=self.now)
            self.report.counts[entity].missing = len(pks)
        return True

    # --- aggregates --------------------------------------------------------------------

    def _recompute_aggregates(self) -> None:
        """Totals and flags derived from other rows, written only where they changed."""
        self._progress("recomputing totals")
        present = Artifact.objects.filter(missing_since__isnull=True)
        by_run = {
            row["run_id"]: (row["n"], row["b"] or 0)
            for row in present.filter(run__isnull=False)
            .values("run_id")
            .annotate(n=Count("pk"), b=Sum("size"))
        }
        self._update_totals(Run, by_run)
        by_model = {
            row["logged_model_id"]: (row["n"], row["b"] or 0)
            for row in present.filter(logged_model__isnull=False)
            .values("logged_model_id")
            .annotate(n=Count("pk"), b=Sum("size"))
        }
        self._update_totals(LoggedModel, by_model)

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
            model=Experiment,
            columns=("run_count", "artifact_count", "artifact_bytes"),
            rows=changed,
        )

        changed_versions = []
        for pk, flag, fresh in self._versions_presence(present):
            if fresh != flag:
                changed_versions.append((fresh, pk))
        update_rows(model=ModelVersion, columns=("artifacts_present",), rows=changed_versions)

    def _versions_presence(self, present) -> Iterable[tuple[int, bool | None, bool | None]]:
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
        run_pks = {row[5] for row in versions if row[5] and row[4].startswith("runs:/")}
        folders: dict[int, set[str]] = defaultdict(set)
        run_list = sorted(run_pks)
        for start in range(0, len(run_list), 500):
            rows = (
                present.filter(run_id__in=run_list[start : start + 500])
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

    def _update_totals(self, model: type, totals: dict[int, tuple[int, int]]) -> None:
        changed = []
        for pk, count, size in model.objects.values_list(
            "pk", "artifact_count", "artifact_bytes"
        ).iterator(chunk_size=10000):
            fresh = totals.get(pk, (0, 0))
            if (count, size) != fresh:
                changed.append((fresh[0], fresh[1], pk))
        with transaction.atomic():
            update_rows(model=model, columns=("artifact_count", "artifact_bytes"), rows=changed)


def reconcile(
    *,
    mlflow_source: Any,
    s3_source: Any,
    options: SyncOptions,
    totals_current: bool = False,
    ranges_current: bool = False,
) -> SyncReport:
    """Run one sync's reads and writes; see the module docstring.

    ``totals_current`` says the stored totals match the stored rows (the previous sync
    finished): a sync that then writes no row leaves them as they are.
    ``ranges_current`` says the stored listing ranges match the stored rows (the
    previous sync ended ok): a walk's unchanged ranges then read no row (ADR 0015).

    Raises ``SourceError`` if MLflow can't list experiments (nothing has been written
    then) and ``SyncConfigurationError`` for a bad option; every later source failure
    is a warning and a ``partial`` status.
    """
    # Millions of short-lived tuples at a million objects: see catalog.sync.collector.
    with collector_paused():
        return Reconciler(
            mlflow_source=mlflow_source,
            s3_source=s3_source,
            options=options,
            totals_current=totals_current,
            ranges_current=ranges_current,
        ).run()


def _metrics_signature(metrics: tuple[MetricRecord, ...]) -> str:
    if not metrics:
        return ""
    return fingerprint([[m.key, finite(m.value), m.step, m.timestamp] for m in metrics])


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


def _existing_rows(rows, *, natural_key: str) -> dict:
    """Natural key -> (pk, fingerprint, is missing) of the rows a sync compares against."""
    rows = rows.annotate(gone=IS_MISSING).values_list("pk", natural_key, "fingerprint", "gone")
    return {
        key: (pk, digest, bool(missing))
        for pk, key, digest, missing in iter_raw_rows(rows, chunk_size=5000)
    }
