"""Reads of the audit page: orphans, runs without artifacts, missing and gone items."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import (
    Count,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import Coalesce

from catalog.models import (
    RUN_DELETED_WITH_ARTIFACTS,
    RUN_WITHOUT_ARTIFACTS,
    Artifact,
    Experiment,
    ModelVersion,
    RegisteredModel,
    Run,
)


def present_orphans() -> QuerySet:
    """S3 objects under a root that belong to no run and no logged model, still present."""
    return Artifact.objects.filter(run=None, logged_model=None, missing_since=None)


def orphan_totals() -> dict:
    """``{"n": objects, "bytes": total size}`` of the present orphans: one aggregate query."""
    return present_orphans().aggregate(n=Count("id"), bytes=Coalesce(Sum("size"), 0))


def orphan_folders() -> QuerySet:
    """Present orphan objects grouped by (bucket, orphan folder), biggest first."""
    return (
        present_orphans()
        .values("bucket", "orphan_folder")
        .annotate(object_count=Count("id"), total_bytes=Coalesce(Sum("size"), 0))
        .order_by("-total_bytes", "bucket", "orphan_folder")
    )


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


@dataclass(frozen=True)
class GoneItem:
    kind: str
    label: str
    url: str | None
    missing_since: datetime
    new_since_last_sync: bool


GONE_ITEMS_PER_KIND = 50


def gone_items(*, since: datetime | None) -> list[GoneItem]:
    """Rows marked missing (gone from their source), newest first, a bounded number per kind.

    ``new_since_last_sync`` flags those marked by the latest sync (``since`` is its start).
    """
    items: list[GoneItem] = []

    def add(kind, rows, label, url):
        for row in rows[:GONE_ITEMS_PER_KIND]:
            items.append(
                GoneItem(
                    kind=kind,
                    label=label(row),
                    url=url(row),
                    missing_since=row.missing_since,
                    new_since_last_sync=bool(since and row.missing_since >= since),
                )
            )

    gone = {"missing_since__isnull": False}
    add(
        "experiment",
        Experiment.objects.filter(**gone).order_by("-missing_since"),
        str,
        lambda row: row.get_absolute_url(),
    )
    add(
        "run",
        Run.objects.filter(**gone).order_by("-missing_since"),
        lambda row: f"{row.name or row.run_id} ({row.run_id})",
        lambda row: row.get_absolute_url(),
    )
    add(
        "registered model",
        RegisteredModel.objects.filter(**gone).order_by("-missing_since"),
        str,
        lambda row: row.get_absolute_url(),
    )
    add(
        "model version",
        ModelVersion.objects.filter(**gone)
        .select_related("registered_model")
        .order_by("-missing_since"),
        str,
        lambda row: row.get_absolute_url(),
    )
    add(
        "artifact",
        Artifact.objects.filter(**gone).order_by("-missing_since"),
        lambda row: row.s3_uri,
        lambda row: None,
    )
    items.sort(key=lambda item: item.missing_since, reverse=True)
    return items


@dataclass(frozen=True)
class AuditSummary:
    orphan_objects: int
    orphan_bytes: int
    runs_without_artifacts: int
    versions_missing_artifacts: int
    deleted_runs_with_artifacts: int
    deleted_runs_bytes: int
    gone: int


def audit_summary() -> AuditSummary:
    """The drift report's headline numbers: seven small aggregate queries.

    The runs' three figures are three queries, not one pass with ``FILTER``s: each is
    answered by the partial index its condition implies (``run_without_artifacts``,
    ``run_deleted_with_artifacts``, ``run_gone``), where one combined pass must read
    every run.
    """
    orphans = orphan_totals()
    empty_runs = runs_without_artifacts().count()
    deleted = (
        deleted_runs_with_artifacts()
        .order_by()
        .aggregate(n=Count("id"), bytes=Coalesce(Sum("artifact_bytes"), 0))
    )
    runs_gone = Run.objects.filter(missing_since__isnull=False).count()
    versions = ModelVersion.objects.aggregate(
        missing_artifacts=Count("id", filter=Q(missing_since=None, artifacts_present=False)),
        gone=Count("id", filter=Q(missing_since__isnull=False)),
    )
    others_gone = (
        Experiment.objects.filter(missing_since__isnull=False).count()
        + RegisteredModel.objects.filter(missing_since__isnull=False).count()
    )
    return AuditSummary(
        orphan_objects=orphans["n"],
        orphan_bytes=orphans["bytes"],
        runs_without_artifacts=empty_runs,
        versions_missing_artifacts=versions["missing_artifacts"],
        deleted_runs_with_artifacts=deleted["n"],
        deleted_runs_bytes=deleted["bytes"],
        gone=runs_gone + versions["gone"] + others_gone,
    )
