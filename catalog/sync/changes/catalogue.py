"""Events about the catalogue as a whole: the first sync's summary, versions whose
artifacts vanished or came back, and the retention purge.

The first sync (the catalogue held no experiment before it) records one
``initial_import`` event, not one per entity: a team's first import of thousands of
runs is not news, and the timeline would open on a wall of "created".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import transaction

from catalog.models import ChangeEvent, ModelVersion
from catalog.sync.changes.diff import format_bytes
from catalog.sync.changes.entities import SPECS, Identity
from catalog.sync.changes.log import ChangeLog, Event
from catalog.sync.report import SyncReport

Entity, Kind = ChangeEvent.Entity, ChangeEvent.Kind
CATALOGUE_KEY = "catalogue"
# What the initial import's summary counts, in its words.
IMPORTED = (
    ("experiments", "experiments"),
    ("runs", "runs"),
    ("registered_models", "registered models"),
    ("model_versions", "model versions"),
    ("logged_models", "logged models"),
    ("artifacts", "artifacts"),
)
PURGE_BATCH = 5000
LOOKUP_BATCH = 500


def record_initial_import(*, log: ChangeLog, report: SyncReport, artifact_bytes: int) -> None:
    """The first sync's one event: what it imported, counted."""
    counts = {entity: report.counts[entity].created for entity, _ in IMPORTED}
    counts["artifact_bytes"] = artifact_bytes
    words = ", ".join(f"{counts[entity]:,} {label}" for entity, label in IMPORTED)
    summary = f"initial import: {words} ({format_bytes(artifact_bytes)})"
    identity = Identity(CATALOGUE_KEY, "catalogue", None, None)
    with transaction.atomic():
        log.write([Event(Entity.CATALOGUE, Kind.INITIAL_IMPORT, None, identity, counts, summary)])


def version_presence_events(changed: Sequence[tuple[bool | None, int]]) -> list[Event]:
    """``updated`` events of versions whose ``artifacts_present`` flipped.

    ``changed`` holds (fresh flag, pk) of the versions whose flag the totals stage is
    about to write; only a flip between true and false is an event (a new version's
    first flag is not). Call it before the flags are written: it reads the old ones.
    """
    if not changed:
        return []
    fresh_of = dict((pk, fresh) for fresh, pk in changed)
    spec = SPECS["model_versions"]
    pks = sorted(fresh_of)
    events = []
    for start in range(0, len(pks), LOOKUP_BATCH):
        rows = ModelVersion.objects.filter(pk__in=pks[start : start + LOOKUP_BATCH]).values(
            "pk", "artifacts_present", "registered_model__name", "version", "registered_model_id"
        )
        for row in rows:
            old, new = row["artifacts_present"], fresh_of[row["pk"]]
            if old is None or new is None or old == new:
                continue
            identity = spec.identify(row["pk"], spec.natural_key(row), row)
            words = "back in S3" if new else "gone from S3"
            events.append(
                Event(
                    spec.entity_type,
                    Kind.UPDATED,
                    row["pk"],
                    identity,
                    {"artifacts_present": [old, new]},
                    f"artifacts {words}",
                )
            )
    return events


def purge_old_events(*, now: datetime, keep_days: int) -> int:
    """Delete the events older than ``keep_days`` days, ``PURGE_BATCH`` at a time;
    returns how many went. Each batch is its own short transaction (an index range)."""
    cutoff = now - timedelta(days=keep_days)
    purged = 0
    while True:
        pks = list(
            ChangeEvent.objects.filter(occurred_at__lt=cutoff)
            .order_by()
            .values_list("pk", flat=True)[:PURGE_BATCH]
        )
        if not pks:
            return purged
        with transaction.atomic():
            ChangeEvent.objects.filter(pk__in=pks).delete()
        purged += len(pks)
