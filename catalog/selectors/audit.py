"""Reads of the audit page: orphans, runs without artifacts, missing and gone items."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Collate, Concat

from catalog.cleanup import CleanupCommand, prefix_upper_bound, s3_rm_command
from catalog.models import (
    RUN_DELETED_WITH_ARTIFACTS,
    RUN_WITHOUT_ARTIFACTS,
    Artifact,
    Experiment,
    ModelVersion,
    RegisteredModel,
    Run,
)

# The group of the objects at the very top of a bucket, as the sync writes it
# (``catalog.sync.layout.BUCKET_TOP_GROUP``; pages import nothing from the sync): not a
# folder, so each of its keys is a row of its own, shown by name.
BUCKET_TOP_GROUP = "/"


def present_orphans() -> QuerySet:
    """S3 objects under a root that belong to no run and no logged model, still present."""
    return Artifact.objects.filter(run=None, logged_model=None, missing_since=None)


def keys_under(objects: QuerySet, *, bucket: str, prefix: str) -> QuerySet:
    """``objects`` in ``bucket`` whose key starts with ``prefix``: a range of the key index.

    Compared by code point on both databases, as S3 orders keys: SQLite's BINARY
    collation does; on PostgreSQL the key column is "C" (migration 0003) and the range
    says so itself (``COLLATE "C"``), as the sync's reads do, so it is an index range.
    ``startswith`` would be a case-insensitive ``LIKE`` on SQLite, and no range.
    """
    ordered = Collate("key", "C") if connection.vendor == "postgresql" else F("key")
    return objects.alias(ordered_key=ordered).filter(
        bucket=bucket, ordered_key__gte=prefix, ordered_key__lt=prefix_upper_bound(prefix)
    )


def orphan_totals() -> dict:
    """``{"n": objects, "bytes": total size}`` of the present orphans: one aggregate query."""
    return present_orphans().aggregate(n=Count("id"), bytes=Coalesce(Sum("size"), 0))


def orphan_totals_with_folders() -> dict:
    """``orphan_totals`` and ``"folders"``, the rows ``orphan_folders`` lists: one query.

    Each stray key at a bucket's top counts on its own, as it is listed (bucket names
    hold no "/", so bucket/entry is unambiguous).
    """
    return present_orphans().aggregate(
        n=Count("id"),
        bytes=Coalesce(Sum("size"), 0),
        folders=Count(Concat("bucket", Value("/"), _orphan_entry()), distinct=True),
    )


def _orphan_entry() -> Case:
    """An orphan's row in the report: its folder, or its key when at a bucket's top."""
    return Case(
        When(orphan_folder=BUCKET_TOP_GROUP, then=F("key")),
        default=F("orphan_folder"),
        output_field=CharField(),
    )


def orphan_folders(*, bucket: str | None = None, prefix: str = "") -> QuerySet:
    """Present orphans grouped by (bucket, orphan folder), biggest first: dict rows.

    A row holds ``bucket``, ``orphan_folder``, ``entry`` (the folder, or for a stray key
    at the bucket's top the key itself: such keys are listed one by one, by name),
    ``object_count``, ``total_bytes``, ``first_key`` (the key when the row holds one
    object) and ``sample_id`` (one of its objects' pk, for ``attach_cleanup``). With
    ``bucket`` and ``prefix``, only the orphans under that prefix (``keys_under``).
    """
    orphans = present_orphans()
    if bucket is not None and prefix:
        orphans = keys_under(orphans, bucket=bucket, prefix=prefix)
    return (
        orphans.annotate(entry=_orphan_entry())
        .values("bucket", "orphan_folder", "entry")
        .annotate(
            object_count=Count("id"),
            total_bytes=Coalesce(Sum("size"), 0),
            first_key=Min("key"),
            sample_id=Min("id"),
        )
        .order_by("-total_bytes", "bucket", "entry")
    )


def orphan_group_objects(*, bucket: str, group: str, key: str | None = None) -> QuerySet:
    """The present orphans of one group (or the one ``key`` of it), by key.

    A folder group's keys all start with it: they are read as a range of the
    (bucket, key) index. The bucket-top group has no such range; the orphan listing
    asks for it by key only.
    """
    objects = present_orphans().filter(bucket=bucket, orphan_folder=group)
    if key is not None:
        objects = objects.filter(key=key)
    elif group and group != BUCKET_TOP_GROUP:
        objects = keys_under(objects, bucket=bucket, prefix=group)
    return objects.only("bucket", "key", "size", "last_modified", "etag").order_by("key")


def _owned_objects_under(*, bucket: str, prefix: str) -> QuerySet:
    """Present objects of a run or logged model whose key starts with ``prefix``."""
    objects = Artifact.objects.filter(missing_since=None).exclude(run=None, logged_model=None)
    return keys_under(objects, bucket=bucket, prefix=prefix)


def orphan_cleanup(row: dict, *, shares_prefix: bool) -> CleanupCommand | None:
    """The ``aws s3 rm`` that removes an orphan row's objects and nothing else, or None.

    One object: that key, not recursive. A folder: the prefix, recursive, unless a run's
    or logged model's objects lie under it too (``shares_prefix``; e.g. a stray file in
    an experiment's folder): then no folder command, the listing offers one per object.
    """
    if row["object_count"] == 1:
        return s3_rm_command(bucket=row["bucket"], key=row["first_key"], recursive=False)
    if shares_prefix or row["orphan_folder"] in ("", BUCKET_TOP_GROUP):
        return None
    return s3_rm_command(bucket=row["bucket"], key=row["orphan_folder"], recursive=True)


def attach_cleanup(rows: list[dict]) -> list[dict]:
    """Set ``shares_prefix`` and ``cleanup`` on a page of ``orphan_folders`` rows.

    One query whatever the page size: an ``EXISTS`` per folder row over the
    (bucket, key) index, each stopping at the first owned object under the folder.
    """
    folders = {
        index: row
        for index, row in enumerate(rows)
        if row["object_count"] > 1 and row["orphan_folder"] not in ("", BUCKET_TOP_GROUP)
    }
    shared: set[int] = set()
    if folders:
        checks = {
            f"shares_{index}": Exists(
                _owned_objects_under(bucket=row["bucket"], prefix=row["orphan_folder"])
            )
            for index, row in folders.items()
        }
        sample = next(iter(folders.values()))["sample_id"]
        flags = Artifact.objects.filter(pk=sample).values(**checks).first() or {}
        shared = {int(name.removeprefix("shares_")) for name, value in flags.items() if value}
    for index, row in enumerate(rows):
        row["shares_prefix"] = index in shared
        row["cleanup"] = orphan_cleanup(row, shares_prefix=index in shared)
    return rows


def runs_without_artifacts() -> QuerySet[Run]:
    """Present runs with no S3 object (a few rows of their own index, ``RUN_WITHOUT_ARTIFACTS``)."""
    return (
        Run.objects.filter(RUN_WITHOUT_ARTIFACTS)
        .select_related("experiment")
        .order_by("experiment__experiment_id", "-start_time")
    )


def versions_with_missing_artifacts() -> QuerySet[ModelVersion]:
    return (
        ModelVersion.objects.filter(missing_since=None, artifacts_present=False)
        .select_related("registered_model", "run")
        .order_by("registered_model__name", "-version")
    )


def deleted_runs_with_artifacts() -> QuerySet[Run]:
    """Deleted or vanished runs whose S3 objects remain (``RUN_DELETED_WITH_ARTIFACTS``)."""
    return (
        Run.objects.filter(RUN_DELETED_WITH_ARTIFACTS)
        .select_related("experiment")
        .order_by("-artifact_bytes", "run_id")
    )


def deleted_run_rows() -> QuerySet[Run]:
    """``deleted_runs_with_artifacts`` for its table, with where the leftovers lie.

    Annotated with ``leftover_bucket``, ``leftover_key`` and ``leftover_path`` of one
    present object of the run (by the run's folder index, for the page's rows only):
    the run's artifact prefix is that key without its path, found in the catalogue
    rather than parsed from ``artifact_uri`` (which may be an ``mlflow-artifacts:`` URI).
    """
    one_object = Artifact.objects.filter(run=OuterRef("pk"), missing_since=None).order_by(
        "folder", "path"
    )
    return deleted_runs_with_artifacts().annotate(
        leftover_bucket=Subquery(one_object.values("bucket")[:1]),
        leftover_key=Subquery(one_object.values("key")[:1]),
        leftover_path=Subquery(one_object.values("path")[:1]),
    )


def run_cleanup(run: Run) -> CleanupCommand | None:
    """The ``aws s3 rm --recursive`` of a deleted run's artifact prefix (``deleted_run_rows``)."""
    key = getattr(run, "leftover_key", None)
    path = getattr(run, "leftover_path", None)
    if not key or not path or not key.endswith(path) or len(key) == len(path):
        return None
    prefix = key[: len(key) - len(path)]
    return s3_rm_command(bucket=run.leftover_bucket, key=prefix, recursive=True)


@dataclass(frozen=True)
class GoneItem:
    """A row marked missing: ``identifier`` is its full id (run id, S3 URI, "name vN"),
    ``name`` its name as MLflow or S3 gives it, ``label`` both as the page shows them."""

    kind: str
    label: str
    identifier: str
    name: str
    url: str | None
    missing_since: datetime
    new_since_last_sync: bool


GONE_ITEMS_PER_KIND = 50


@dataclass(frozen=True)
class _GoneKind:
    kind: str
    rows: Callable[[], QuerySet]
    label: Callable[[object], str]
    identifier: Callable[[object], str]
    name: Callable[[object], str]
    url: Callable[[object], str | None]


def _gone(model) -> QuerySet:
    return model.objects.filter(missing_since__isnull=False).order_by("-missing_since", "pk")


def _version_id(row: ModelVersion) -> str:
    return f"{row.registered_model.name} v{row.version}"


_GONE_KINDS = (
    _GoneKind(
        "experiment",
        lambda: _gone(Experiment),
        str,
        lambda row: row.experiment_id,
        lambda row: row.name,
        lambda row: row.get_absolute_url(),
    ),
    _GoneKind(
        "run",
        lambda: _gone(Run),
        lambda row: f"{row.name or row.run_id} ({row.run_id})",
        lambda row: row.run_id,
        lambda row: row.name,
        lambda row: row.get_absolute_url(),
    ),
    _GoneKind(
        "registered model",
        lambda: _gone(RegisteredModel),
        str,
        lambda row: row.name,
        lambda row: row.name,
        lambda row: row.get_absolute_url(),
    ),
    _GoneKind(
        "model version",
        lambda: _gone(ModelVersion).select_related("registered_model"),
        _version_id,
        _version_id,
        lambda row: row.registered_model.name,
        lambda row: row.get_absolute_url(),
    ),
    _GoneKind(
        "artifact",
        lambda: _gone(Artifact),
        lambda row: row.s3_uri,
        lambda row: row.s3_uri,
        lambda row: row.key,
        lambda row: None,
    ),
)


def _gone_item(spec: _GoneKind, row, since: datetime | None) -> GoneItem:
    return GoneItem(
        kind=spec.kind,
        label=spec.label(row),
        identifier=spec.identifier(row),
        name=spec.name(row),
        url=spec.url(row),
        missing_since=row.missing_since,
        new_since_last_sync=bool(since and row.missing_since >= since),
    )


def gone_items(*, since: datetime | None) -> list[GoneItem]:
    """Rows marked missing (gone from their source), newest first, a bounded number per kind.

    ``new_since_last_sync`` flags those marked by the latest sync (``since`` is its start).
    """
    items = [
        _gone_item(spec, row, since)
        for spec in _GONE_KINDS
        for row in spec.rows()[:GONE_ITEMS_PER_KIND]
    ]
    items.sort(key=lambda item: item.missing_since, reverse=True)
    return items


def iter_gone_items(*, since: datetime | None) -> Iterator[GoneItem]:
    """Every row marked missing, kind by kind, newest first: for the CSV export (streamed)."""
    for spec in _GONE_KINDS:
        for row in spec.rows().iterator(chunk_size=2000):
            yield _gone_item(spec, row, since)


@dataclass(frozen=True)
class AuditSummary:
    """The drift report's headline numbers (``gone`` is None when not counted)."""

    orphan_folders: int
    orphan_objects: int
    orphan_bytes: int
    runs_without_artifacts: int
    versions_missing_artifacts: int
    deleted_runs_with_artifacts: int
    deleted_runs_bytes: int
    gone: int | None = None

    @property
    def has_drift(self) -> bool:
        return bool(
            self.orphan_objects
            or self.runs_without_artifacts
            or self.versions_missing_artifacts
            or self.deleted_runs_with_artifacts
        )


def _version_counts() -> dict:
    """Present versions whose artifacts are missing, and versions gone: one pass."""
    return ModelVersion.objects.aggregate(
        missing_artifacts=Count("id", filter=Q(missing_since=None, artifacts_present=False)),
        gone=Count("id", filter=Q(missing_since__isnull=False)),
    )


def _drift_summary(versions: dict) -> AuditSummary:
    orphans = orphan_totals_with_folders()
    empty_runs = runs_without_artifacts().count()
    deleted = (
        deleted_runs_with_artifacts()
        .order_by()
        .aggregate(n=Count("id"), bytes=Coalesce(Sum("artifact_bytes"), 0))
    )
    return AuditSummary(
        orphan_folders=orphans["folders"],
        orphan_objects=orphans["n"],
        orphan_bytes=orphans["bytes"],
        runs_without_artifacts=empty_runs,
        versions_missing_artifacts=versions["missing_artifacts"],
        deleted_runs_with_artifacts=deleted["n"],
        deleted_runs_bytes=deleted["bytes"],
    )


def drift_summary() -> AuditSummary:
    """Where MLflow and S3 disagree, in four aggregate queries (the home page's summary).

    The runs' two figures are two queries, not one pass with ``FILTER``s: each is
    answered by the partial index its condition implies (``run_without_artifacts``,
    ``run_deleted_with_artifacts``), where one combined pass must read every run.
    """
    return _drift_summary(_version_counts())


def audit_summary() -> AuditSummary:
    """``drift_summary`` and the rows gone from the sources: seven small queries.

    Each other "gone" count reads only its table's partial index of gone rows.
    """
    versions = _version_counts()
    runs_gone = Run.objects.filter(missing_since__isnull=False).count()
    others_gone = (
        Experiment.objects.filter(missing_since__isnull=False).count()
        + RegisteredModel.objects.filter(missing_since__isnull=False).count()
    )
    return replace(_drift_summary(versions), gone=runs_gone + versions["gone"] + others_gone)
