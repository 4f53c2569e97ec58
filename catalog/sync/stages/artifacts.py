"""Stage 2: the S3 walks, each matched against the catalogued rows of its prefix.

The plan: one walk per merged root (experiment folders and ``CATALOG_S3_ROOTS``),
grouped by bucket; a limited sync walks only its experiments' folders. The listing
starts before the MLflow stage (``start_listing``) and runs a bounded stretch ahead
on a thread, so S3 and MLflow are waited on at once. Each bucket's walks then go
through ``catalog.sync.artifacts``: the walk compares, the queue batches, the writer
writes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from catalog.models import LoggedModel
from catalog.sync.artifacts.content import ContentReader
from catalog.sync.artifacts.queue import ArtifactQueue
from catalog.sync.artifacts.ranges import WalkRanges, load_ranges, rows_agree
from catalog.sync.artifacts.walk import BucketWalk, Owner
from catalog.sync.artifacts.writer import ArtifactWriter
from catalog.sync.context import SyncContext
from catalog.sync.layout import (
    can_hold_keys,
    experiment_walk_root,
    folder_prefix,
    merge_roots,
    parse_s3_uri,
    prefixes_overlap,
    resolve_artifact_uri,
)
from catalog.sync.prefetch import prefetched
from catalog.sync.records import ExperimentRecord, S3Root, SourceError
from catalog.sync.report import SyncConfigurationError

# Listed records handed from the listing thread to the artifact stage at a time.
LISTING_CHUNK = 1000

# One listing item: ("records", [ArtifactRecord | SkippedKey, ...]), or per walk one
# ("end", None) or ("error", SourceError).
ListingItem = tuple[str, Any]


@dataclass(frozen=True, slots=True)
class Walk:
    """One listing: ``prefix`` under ``root`` (narrower than it in a limited sync)."""

    root: S3Root  # the group root (orphan folders are relative to it)
    prefix: str


def plan_walks(ctx: SyncContext, experiments: list[ExperimentRecord]) -> dict[str, list[Walk]]:
    """bucket -> its walks, in the order they are listed and matched."""
    by_bucket: dict[str, list[Walk]] = defaultdict(list)
    for walk in _walks(ctx, experiments):
        if not can_hold_keys(walk.prefix):
            # Nothing can be listed there, and the prefix fits no column of ours.
            shown = repr(walk.prefix[:200])[1:-1]
            ctx.report.warn(
                f"s3://{walk.root.bucket}/{shown}...: a prefix of "
                f"{len(walk.prefix.encode()):,} bytes, which no S3 key (1,024 bytes at "
                "most) extends; not walked"
            )
            continue
        by_bucket[walk.root.bucket].append(walk)
    return dict(by_bucket)


def start_listing(ctx: SyncContext, plan: dict[str, list[Walk]]) -> Iterator[ListingItem]:
    """Every walk's records, listed on a thread up to ``list_ahead`` chunks ahead.

    Bounded: at most ``list_ahead`` chunks of ``LISTING_CHUNK`` records wait
    (``list_ahead`` 0: listed inline, as the artifact stage asks). Close it to stop
    the thread.
    """
    walks = [walk for bucket_walks in plan.values() for walk in bucket_walks]
    return prefetched(_list_walks(ctx, walks), depth=ctx.options.list_ahead, name="sync-listing")


def sync_artifacts(
    ctx: SyncContext, plan: dict[str, list[Walk]], listing: Iterator[ListingItem]
) -> None:
    """Match every walk's listing against its rows; write what changed.

    Every batch is written before this returns: the registry and the missing-marking
    read the rows next.
    """
    ctx.progress("walking S3: planning the roots")
    owners = _owner_prefixes(ctx)
    ctx.forget_run_index()
    options = ctx.options
    with (
        ContentReader(
            s3=ctx.s3,
            workers=options.read_workers,
            process_min_batch=options.parse_process_min_batch,
        ) as reader,
        ArtifactWriter(process_min_rows=options.writer_process_min_rows) as writer,
    ):
        for bucket, walks in plan.items():
            queue = ArtifactQueue(
                bucket=bucket,
                reader=reader,
                writer=writer,
                report=ctx.report,
                now=ctx.now,
                batch_size=options.batch_size,
                # A first sync records one summary event, no artifact changes.
                tally=None if ctx.changes.initial_import else ctx.artifact_changes,
            )
            bucket_walk = BucketWalk(
                bucket=bucket, owners=owners.get(bucket, {}), queue=queue, report=ctx.report
            )
            for index, walk in enumerate(walks):
                if any(prefixes_overlap(walk.prefix, earlier.prefix) for earlier in walks[:index]):
                    # An earlier walk listed some of these keys (a limited sync whose
                    # experiment folders nest): its batches must be in the table before
                    # this walk reads the rows, or it would insert them a second time.
                    queue.write_waiting()
                    writer.finish()
                _walk_one(ctx, walk, bucket_walk, queue, _walk_records(listing))
            queue.write_waiting()
            # Counted here: the writer process's statements pass no wrapper of ours.
            ctx.write_statements += queue.statements
            ctx.artifact_bytes_created += queue.created_bytes
        writer.finish()
    ctx.report.rows_written_by_writer_process = writer.rows_written_in_process


def _walk_one(
    ctx: SyncContext, walk: Walk, bucket_walk: BucketWalk, queue: ArtifactQueue, records
) -> None:
    bucket = walk.root.bucket
    counts = ctx.report.counts["artifacts"]
    ctx.progress(f"listing s3://{bucket}/{walk.prefix}")
    writes_before = counts.created + counts.updated + counts.restored
    stored_ranges = (
        load_ranges(bucket=bucket, walk_prefix=walk.prefix) if ctx.ranges_current else []
    )
    trusted = bool(stored_ranges) and rows_agree(
        bucket=bucket, walk_prefix=walk.prefix, ranges=stored_ranges
    )
    result = bucket_walk.walk(
        root=walk.root,
        prefix=walk.prefix,
        records=records,
        trusted_ranges=stored_ranges if trusted else None,
    )
    if result.error is not None:
        ctx.source_failed("artifacts", result.error)
    queue.flush()
    counts.unchanged += result.unchanged
    ctx.artifact_present_before += result.present
    if not result.listed_all:
        ctx.ranges_dropped.append((bucket, walk.prefix))
        return
    ctx.artifact_missing.extend(result.missing)
    if not result.in_order:
        # Ranges cut from a listing out of key order would not partition it.
        ctx.ranges_dropped.append((bucket, walk.prefix))
        return
    wrote = bool(result.missing) or (
        counts.created + counts.updated + counts.restored != writes_before
    )
    ctx.walk_ranges.append(
        WalkRanges(
            bucket=bucket,
            walk_prefix=walk.prefix,
            ranges=result.ranges,
            replaced=result.replaced,
            wrote=wrote,
        )
    )


def _walks(ctx: SyncContext, experiments: list[ExperimentRecord]) -> list[Walk]:
    destination = ctx.options.artifacts_destination
    if ctx.scope:
        # A limited sync lists only its experiments' folders, but groups orphans
        # as a full sync would (relative to the bucket root) so rows stay stable.
        walks = []
        for record in experiments:
            location = resolve_artifact_uri(
                record.artifact_location, artifacts_destination=destination
            )
            if location is not None:
                walks.append(
                    Walk(root=experiment_walk_root(location), prefix=folder_prefix(location[1]))
                )
        return walks
    roots = []
    for record in experiments:
        location = resolve_artifact_uri(record.artifact_location, artifacts_destination=destination)
        if location is None:
            if record.artifact_location:
                ctx.report.warn(
                    f"experiment {record.experiment_id}: artifact location "
                    f"{record.artifact_location!r} is not on S3; not walked"
                )
            continue
        roots.append(experiment_walk_root(location))
    for uri in ctx.options.extra_roots:
        parsed = parse_s3_uri(uri)
        if parsed is None:
            raise SyncConfigurationError(f"CATALOG_S3_ROOTS: {uri!r} is not an s3:// URI")
        roots.append(S3Root(bucket=parsed[0], prefix=folder_prefix(parsed[1])))
    return [Walk(root=root, prefix=root.prefix) for root in merge_roots(roots)]


def _owner_prefixes(ctx: SyncContext) -> dict[str, dict[str, Owner]]:
    """bucket -> {".../artifacts/" prefix: (run pk, logged model pk)} of known owners."""
    destination = ctx.options.artifacts_destination
    complete = ctx.mlflow_complete()
    gone_runs = set(ctx.tables["runs"].missing_candidates()) if complete else set()
    gone_models = set(ctx.tables["logged_models"].missing_candidates()) if complete else set()
    owners: dict[str, dict[str, Owner]] = defaultdict(dict)
    for run in ctx.run_index().values():
        if run.missing or run.pk in gone_runs:
            continue
        location = resolve_artifact_uri(run.artifact_uri, artifacts_destination=destination)
        if location is not None:
            owners[location[0]][folder_prefix(location[1])] = (run.pk, None)
    models = LoggedModel.objects.filter(missing_since__isnull=True).values_list(
        "pk", "artifact_location"
    )
    for pk, uri in models:
        location = resolve_artifact_uri(uri, artifacts_destination=destination)
        if location is not None and pk not in gone_models:
            owners[location[0]][folder_prefix(location[1])] = (None, pk)
    return owners


def _list_walks(ctx: SyncContext, walks: list[Walk]) -> Iterator[ListingItem]:
    for walk in walks:
        chunk: list[Any] = []
        try:
            for record in ctx.s3.iter_root(
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


def _walk_records(listing: Iterator[ListingItem]) -> Iterator[Any]:
    """One walk's records from the shared listing; its listing error, raised."""
    for kind, value in listing:
        if kind == "records":
            yield from value
        elif kind == "error":
            raise value
        else:
            return
