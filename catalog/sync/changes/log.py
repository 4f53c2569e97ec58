"""A sync's change log: events built from what its stages wrote, bulk-inserted.

``ChangeLog`` is the sync's (``SyncContext.changes``): its clock, its ``SyncRun`` and
whether it is the first sync (then only one summary event is written; see
``catalog.sync.changes.catalogue``). ``TableRecorder`` is what a ``KeyedTable`` calls
when it flushes a batch that holds changed rows: it reads the old watched values of
those rows (one query per batch, before they are overwritten), diffs them with the
new ones and inserts the events in the batch's own transaction. A batch of unchanged
rows never reaches it, so a sync that changes nothing reads and writes nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from catalog.models import ChangeEvent
from catalog.sync.bulk import db_datetime, insert_rows, json_text
from catalog.sync.changes.diff import alias_summary, diff_values, updated_summary
from catalog.sync.changes.entities import EntitySpec, Identity

Kind = ChangeEvent.Kind
EVENT_COLUMNS = (
    "sync_run_id", "occurred_at", "entity_type", "kind", "object_pk", "entity_key",
    "entity_name", "experiment_id", "registered_model_id", "changes", "summary",
)  # fmt: skip


class Event(NamedTuple):
    """One event before the sync's run and clock are added."""

    entity_type: str
    kind: str
    object_pk: int | None
    identity: Identity
    changes: Mapping[str, Any]
    summary: str


@dataclass
class ChangeLog:
    """Where a sync's events go: ``write`` bulk-inserts them on the sync's connection.

    ``initial_import`` is set by the experiments stage (the catalogue held no
    experiment before this sync): then entity events are not recorded at all.
    """

    now: datetime
    sync_run_id: int | None = None
    initial_import: bool = False
    written: int = 0

    def write(self, events: Sequence[Event]) -> None:
        """Insert ``events`` (call it inside the transaction of the rows they describe)."""
        if not events:
            return
        occurred = db_datetime(self.now)
        rows = [
            (
                self.sync_run_id,
                occurred,
                str(event.entity_type),  # the plain value, for binary COPY
                str(event.kind),
                event.object_pk,
                event.identity.key,
                event.identity.name,
                event.identity.experiment_pk,
                event.identity.registered_model_pk,
                json_text(dict(event.changes)),
                event.summary,
            )
            for event in events
        ]
        insert_rows(model=ChangeEvent, columns=EVENT_COLUMNS, rows=rows)
        self.written += len(rows)


def entity_events(
    spec: EntitySpec,
    *,
    outcome: str,
    pk: int,
    identity: Identity,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any],
) -> list[Event]:
    """The events of one written row: created, restored, updated and/or alias_moved."""
    label = f"{spec.label} {identity.name}"
    if outcome == "created":
        return [Event(spec.entity_type, Kind.CREATED, pk, identity, {}, f"{label} created")]
    changes, aliases = diff_values(spec, old or {}, new)
    events = []
    if outcome == "restored":
        summary = f"{label} back in MLflow"
        events.append(Event(spec.entity_type, Kind.RESTORED, pk, identity, changes, summary))
    elif changes:
        summary = updated_summary(changes)
        events.append(Event(spec.entity_type, Kind.UPDATED, pk, identity, changes, summary))
    if aliases:
        summary = alias_summary(aliases)
        events.append(Event(spec.entity_type, Kind.ALIAS_MOVED, pk, identity, aliases, summary))
    return events


def missing_event(spec: EntitySpec, *, pk: int, identity: Identity) -> Event:
    """The event of a row the missing-marking marks: gone from its listing."""
    summary = f"{spec.label} {identity.name} gone from MLflow"
    return Event(spec.entity_type, Kind.MISSING, pk, identity, {}, summary)


def row_fields(row: Any, names: Iterable[str]) -> dict[str, Any]:
    """``names`` of a model instance by attribute name (``experiment_id`` for the FK)."""
    return {name: getattr(row, name) for name in names}


class TableRecorder:
    """A ``KeyedTable``'s change recorder for one entity (see the module docstring)."""

    def __init__(self, *, spec: EntitySpec, log: ChangeLog) -> None:
        self.spec = spec
        self.log = log

    def read_old(self, pks: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The stored watched values of ``pks``, before the batch overwrites them."""
        if not pks:
            return {}
        rows = self.spec.model.objects.filter(pk__in=pks).values("pk", *self.spec.watched)
        return {row.pop("pk"): row for row in rows}

    def record(
        self,
        *,
        created: Iterable[tuple[Any, Any]],
        changed: Iterable[tuple[Any, Any, str]],
        old: Mapping[int, Mapping[str, Any]],
    ) -> None:
        """Write the events of one flushed batch: ``created`` (key, row) pairs (their
        pks set), ``changed`` (key, row, "updated" | "restored") and their old values."""
        spec = self.spec
        context = spec.context_fields
        events: list[Event] = []
        for key, row in created:
            identity = spec.identify(row.pk, key, row_fields(row, context))
            events += entity_events(
                spec, outcome="created", pk=row.pk, identity=identity, old=None, new={}
            )
        for key, row, outcome in changed:
            identity = spec.identify(row.pk, key, row_fields(row, context))
            new = row_fields(row, spec.watched)
            events += entity_events(
                spec, outcome=outcome, pk=row.pk, identity=identity, old=old.get(row.pk), new=new
            )
        self.log.write(events)
