"""Reads of the change timeline (``/changes/``), the entity pages' history panels and the
home page's "what changed since your last visit".

A million events is an ordinary size for the table, so nothing here counts or skips
through all of them: the timeline pages by key (``id`` below or above a cursor, through
the index that leads with each filter and ends in ``-id``), and every count is capped
(``CAPPED_COUNT``: counted over at most that many rows, then "10,000+").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import F, OuterRef, QuerySet, Subquery
from django.urls import reverse

from catalog.model_urls import model_url, model_version_url
from catalog.models import (
    ChangeEvent,
    Experiment,
    LoggedModel,
    ModelVersion,
    ReaderVisit,
    RegisteredModel,
    Run,
    SyncRun,
)
from catalog.selectors import common

Entity = ChangeEvent.Entity
# Events listed by an entity page's history panel.
HISTORY_EVENTS = 10
# Counts stop here: beyond it a page says "10,000+" rather than read every row.
CAPPED_COUNT = 10_000
# "Since your last visit": a visit ends after this long without a home page view...
VISIT_GAP = timedelta(minutes=30)
# ...and within a visit the row is rewritten at most this often.
VISIT_WRITE_INTERVAL = timedelta(minutes=5)
# What a reader with no earlier visit is shown.
FIRST_VISIT_WINDOW = timedelta(hours=24)
# The columns a synced row's heading needs (not its warnings or counts, which may be long).
SYNC_HEADING_FIELDS = ("id", "started_at", "finished_at", "status", "dry_run")


@dataclass(frozen=True)
class CappedCount:
    """A count of at most ``CAPPED_COUNT`` rows: ``capped`` when there were more."""

    value: int
    capped: bool = False

    def __str__(self) -> str:
        return f"{self.value:,}+" if self.capped else f"{self.value:,}"


def timeline_events() -> QuerySet[ChangeEvent]:
    """Every event, newest first: the queryset the timeline's filters narrow."""
    return ChangeEvent.objects.order_by("-pk")


@dataclass
class TimelinePage:
    """One page of the timeline, newest first, and the cursors of its neighbours."""

    events: list[ChangeEvent]
    newer_than: int | None  # ``?after=`` of the newer page, None at the newest
    older_than: int | None  # ``?before=`` of the older page, None at the oldest


def timeline_page(
    queryset: QuerySet[ChangeEvent], *, before: int | None, after: int | None, per_page: int
) -> TimelinePage:
    """``per_page`` events of ``queryset`` older than ``before`` (or, with ``after``, the
    ``per_page`` just newer than it), in one indexed query of ``per_page + 1`` rows."""
    if after is not None:
        rows = list(queryset.filter(pk__gt=after).order_by("pk")[: per_page + 1])
        more_newer = len(rows) > per_page
        events = rows[:per_page][::-1]
        return TimelinePage(
            events=events,
            newer_than=events[0].pk if events and more_newer else None,
            older_than=events[-1].pk if events else after + 1,
        )
    older = queryset.filter(pk__lt=before) if before is not None else queryset
    rows = list(older.order_by("-pk")[: per_page + 1])
    events = rows[:per_page]
    newer_than = None
    if before is not None:
        newer_than = events[0].pk if events else before - 1
    return TimelinePage(
        events=events,
        newer_than=newer_than,
        older_than=events[-1].pk if len(rows) > per_page else None,
    )


def capped_count(queryset: QuerySet, *, cap: int = CAPPED_COUNT) -> CappedCount:
    """How many rows ``queryset`` has, reading at most ``cap + 1`` of them."""
    found = queryset.order_by().values("pk")[: cap + 1].count()
    return CappedCount(min(found, cap), capped=found > cap)


def capped_counts_by(
    queryset: QuerySet, *, column: str, cap: int = CAPPED_COUNT
) -> tuple[dict, bool]:
    """Rows of ``queryset`` per value of ``column``, over at most ``cap + 1`` rows.

    One query: the rows are limited in a derived table, then grouped. Returns the
    counts and whether the cap was reached (the counts are then lower bounds).
    """
    inner = queryset.order_by().annotate(counted=F(column)).values_list("counted")[: cap + 1]
    sql, params = inner.query.sql_with_params()
    # The inner SQL and its parameters are Django's own; the outer query adds no value.
    query = f"SELECT sub.counted, COUNT(*) FROM ({sql}) sub GROUP BY sub.counted"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        counts = dict(cursor.fetchall())
    return counts, sum(counts.values()) > cap


@dataclass
class SyncGroup:
    """The events of one sync on a timeline page, under that sync's heading."""

    sync: SyncRun | None
    events: list[ChangeEvent] = field(default_factory=list)
    count: CappedCount | None = None  # the sync's events that match the filters
    continued: bool = False  # the group began on a newer page


def sync_groups(
    events: list[ChangeEvent], *, queryset: QuerySet[ChangeEvent], newest_page: bool
) -> list[SyncGroup]:
    """``events`` (newest first) grouped by consecutive sync, with each sync's heading row
    and its matching event count: two queries whatever the page size, three on a page
    after the newest (whether the first group began on the newer page)."""
    groups: list[SyncGroup] = []
    for event in events:
        if not groups or groups[-1].events[-1].sync_run_id != event.sync_run_id:
            groups.append(SyncGroup(sync=None))
        groups[-1].events.append(event)
    sync_ids = {group.events[0].sync_run_id for group in groups} - {None}
    if not sync_ids:
        return groups
    syncs = synced_rows_with_event_span(sync_ids)
    counts = sync_event_counts(queryset, syncs.values())
    for group in groups:
        sync_id = group.events[0].sync_run_id
        group.sync = syncs.get(sync_id)
        if sync_id is not None:
            group.count = counts.get(sync_id, CappedCount(0))
    if not newest_page:
        newer = queryset.filter(pk__gt=events[0].pk).order_by("pk")
        newer_sync = newer.values_list("sync_run_id", flat=True).first()
        groups[0].continued = (
            newer_sync is not None and newer_sync == groups[0].events[0].sync_run_id
        )
    return groups


def synced_rows_with_event_span(sync_ids) -> dict[int, SyncRun]:
    """The heading rows of ``sync_ids``, each with ``first_event`` and ``last_event``: the
    keys its events span, each found by one seek in the sync index."""
    of_sync = ChangeEvent.objects.filter(sync_run=OuterRef("pk")).values("pk")
    return (
        SyncRun.objects.only(*SYNC_HEADING_FIELDS)
        .annotate(
            first_event=Subquery(of_sync.order_by("pk")[:1]),
            last_event=Subquery(of_sync.order_by("-pk")[:1]),
        )
        .in_bulk(sync_ids)
    )


def sync_event_counts(queryset: QuerySet[ChangeEvent], syncs) -> dict[int, CappedCount]:
    """The events of ``queryset`` per sync of ``syncs`` (rows with their event span), each
    counted up to ``CAPPED_COUNT``, in one query.

    Each sync's count reads only its span of keys in the index the filters lead: a
    sync writes its events one after another, so its span holds little else, where
    a count by sync alone would test every event the filters match (every "missing"
    event of the table, say) for its sync.
    """
    spanned = [sync for sync in syncs if sync.first_event is not None]
    if not spanned:
        return {}
    cap = CAPPED_COUNT
    found = common.counts(
        limit=cap + 1,
        **{
            f"sync_{sync.pk}": queryset.filter(
                sync_run_id=sync.pk, pk__gte=sync.first_event, pk__lte=sync.last_event
            )
            for sync in spanned
        },
    )
    return {
        sync.pk: CappedCount(min(count, cap), capped=count > cap)
        for sync, count in zip(spanned, found.values(), strict=True)
    }


# entity type -> (model, the natural key's column, a version column or None)
_ENTITY_ROWS = {
    Entity.EXPERIMENT: (Experiment, "experiment_id", None),
    Entity.RUN: (Run, "run_id", None),
    Entity.REGISTERED_MODEL: (RegisteredModel, "name", None),
    Entity.MODEL_VERSION: (ModelVersion, "registered_model__name", "version"),
    Entity.LOGGED_MODEL: (LoggedModel, "model_id", None),
}


# entity type -> the URL name of its page, for those whose page takes the key as it is
_KEY_ROUTES = {
    Entity.EXPERIMENT: "catalog:experiment_detail",
    Entity.RUN: "catalog:run_detail",
    Entity.LOGGED_MODEL: "catalog:logged_model_detail",
}


def _entity_url(entity_type: str, key: str, version: int | None) -> str:
    if entity_type == Entity.REGISTERED_MODEL:
        return model_url(key)
    if entity_type == Entity.MODEL_VERSION:
        return model_version_url(key, version)
    return reverse(_KEY_ROUTES[entity_type], args=[key])


def entity_urls(events: list[ChangeEvent]) -> dict[tuple[str, int], str]:
    """The page of each event's entity whose row still exists, by (entity type, pk).

    Built from the row as it is now (a renamed model links to its new name); an entity
    whose row is gone has no entry. One query per entity type on the page.
    """
    wanted: dict[str, set[int]] = {}
    for event in events:
        if event.object_pk is not None and event.entity_type in _ENTITY_ROWS:
            wanted.setdefault(event.entity_type, set()).add(event.object_pk)
    urls = {}
    # One query per entity type on the page (at most five): a UNION of them would match
    # columns by position, which Django does not keep for annotations across models.
    for entity_type, pks in sorted(wanted.items()):
        model, key_column, version_column = _ENTITY_ROWS[entity_type]
        columns = ("pk", key_column, version_column) if version_column else ("pk", key_column)
        for row in model.objects.filter(pk__in=pks).order_by().values_list(*columns):
            version = row[2] if version_column else None
            urls[(entity_type, row[0])] = _entity_url(entity_type, row[1], version)
    return urls


def entity_history(*, entity_type: str, obj, limit: int = HISTORY_EVENTS) -> list[ChangeEvent]:
    """The newest events of one entity page, in one query through its index.

    A registered model's history holds its versions' events too (an alias moves on the
    model, a version's artifacts vanish on the version); an experiment's, every event
    of the entities in it.
    """
    events = timeline_events()
    if entity_type == Entity.REGISTERED_MODEL:
        events = events.filter(registered_model=obj)
    elif entity_type == Entity.EXPERIMENT:
        events = events.filter(experiment=obj)
    else:
        events = events.filter(entity_type=entity_type, object_pk=obj.pk)
    return list(events[:limit])


@dataclass(frozen=True)
class SinceVisit:
    """What the home page counts from: the reader's last visit, or the last 24 hours."""

    since: datetime
    from_last_visit: bool


def record_home_visit(*, user, now: datetime) -> SinceVisit:
    """Note that ``user`` opened the home page at ``now``; return what to count from.

    A visit is a run of home page views less than ``VISIT_GAP`` apart: "since your last
    visit" is since the previous one ended. One read, and a write at most every
    ``VISIT_WRITE_INTERVAL`` within a visit.
    """
    visit = ReaderVisit.objects.filter(user=user).first()
    if visit is None:
        # Two first requests at once must not both insert the row: the second insert is
        # skipped (ON CONFLICT DO NOTHING, no savepoint round trips).
        ReaderVisit.objects.bulk_create(
            [ReaderVisit(user=user, last_visit_at=now)], ignore_conflicts=True
        )
        return SinceVisit(since=now - FIRST_VISIT_WINDOW, from_last_visit=False)
    if now - visit.last_visit_at > VISIT_GAP:
        visit.previous_visit_at = visit.last_visit_at
        visit.last_visit_at = now
        visit.save(update_fields=["previous_visit_at", "last_visit_at"])
    elif now - visit.last_visit_at > VISIT_WRITE_INTERVAL:
        visit.last_visit_at = now
        visit.save(update_fields=["last_visit_at"])
    if visit.previous_visit_at is None:
        return SinceVisit(since=now - FIRST_VISIT_WINDOW, from_last_visit=False)
    return SinceVisit(since=visit.previous_visit_at, from_last_visit=True)


@dataclass(frozen=True)
class KindCount:
    kind: str
    label: str
    count: int


def changes_by_kind(*, since: datetime) -> tuple[list[KindCount], bool]:
    """Events since ``since`` per kind, in the kinds' order, and whether the count was
    capped: one query over at most ``CAPPED_COUNT`` rows of the time index."""
    counts, capped = capped_counts_by(
        ChangeEvent.objects.filter(occurred_at__gte=since), column="kind"
    )
    rows = [
        KindCount(kind=kind, label=label, count=counts[kind])
        for kind, label in ChangeEvent.Kind.choices
        if counts.get(kind)
    ]
    return rows, capped
