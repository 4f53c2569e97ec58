"""Compare-before-write upserts of mirrored rows by natural key.

``KeyedTable`` holds, for the rows in a sync's scope, natural key -> (pk, fingerprint,
missing, ...) and queues a write only when a record's fingerprint differs from the
row's (or the row was missing). ``fingerprint`` and the small value converters used
by reconcile live here too.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from django.db import transaction

from catalog.sync.bulk import insert_instances, update_instances
from catalog.sync.report import EntityCounts


def fingerprint(values: Any) -> str:
    """A stable digest of a row's synced values (JSON with sorted keys)."""
    text = json.dumps(values, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def from_millis(value: int | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def finite(value: float | None) -> float | None:
    # JSON (and PostgreSQL's jsonb) has no NaN or infinity: they are stored as null.
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def non_finite_warning(*, item: str, values: Iterable[tuple[str, float | None]]) -> str:
    """The warning for an item whose metrics hold NaN or infinities ("" if none do).

    ``finite`` stores such a value as empty; the warning says so, once per item, with the
    keys (at most five named), so the user knows the chart and the leaderboard lack it.
    """
    keys = sorted({key for key, value in values if value is not None and not math.isfinite(value)})
    if not keys:
        return ""
    named = ", ".join(repr(key) for key in keys[:5]) + (" ..." if len(keys) > 5 else "")
    return f"{item}: metric {named} holds NaN or infinite values, stored as empty"


class ChangeRecorder(Protocol):
    """What a ``KeyedTable`` tells about the rows it writes (``catalog.sync.changes``)."""

    def read_old(self, pks: list[int]) -> dict[int, dict[str, Any]]: ...

    def record(
        self,
        *,
        created: list[tuple[Any, Any]],
        changed: list[tuple[Any, Any, str]],
        old: dict[int, dict[str, Any]],
    ) -> None: ...


class KeyedTable:
    """Upserts one mirrored model by natural key, comparing fingerprints first.

    ``existing`` maps the natural key to (pk, fingerprint, missing, extra) for the rows
    in scope; what is left unseen at the end is the missing candidates. With a
    ``recorder``, each flush that writes rows also reads the changed rows' old values
    (before it overwrites them) and has their events written in its transaction.
    """

    def __init__(
        self,
        *,
        model: type,
        counts: EntityCounts,
        now: datetime,
        batch_size: int,
        existing: dict[Any, tuple],
    ) -> None:
        self.model = model
        self.counts = counts
        self.now = now
        self.batch_size = batch_size
        self.existing = existing
        self.seen: set[Any] = set()
        self.pks: dict[Any, int] = {key: row[0] for key, row in existing.items()}
        self._create: list[tuple[Any, Any]] = []
        self._update: dict[tuple[str, ...], list[Any]] = defaultdict(list)
        self.on_flush: Callable[[], None] | None = None
        self.recorder: ChangeRecorder | None = None
        # The batch's changed rows by natural key, kept only for the recorder.
        self._changed: list[tuple[Any, Any, str]] = []

    def upsert(self, key: Any, values: dict[str, Any]) -> str:
        """Queue a write if needed; returns "created", "updated", "restored" or "unchanged"."""
        self.seen.add(key)
        digest = fingerprint(values)
        old = self.existing.get(key)
        if old is None:
            row = self.model(**values, fingerprint=digest, first_seen=self.now, last_seen=self.now)
            self._create.append((key, row))
            self.counts.created += 1
            outcome = "created"
        else:
            pk, old_digest, missing = old[0], old[1], old[2]
            if old_digest == digest and not missing:
                self.counts.unchanged += 1
                return "unchanged"
            row = self.model(pk=pk, **values)
            row.fingerprint = digest
            row.last_seen = self.now
            row.missing_since = None
            fields = (*values.keys(), "fingerprint", "last_seen", "missing_since")
            self._update[fields].append(row)
            if missing:
                self.counts.restored += 1
                outcome = "restored"
            else:
                self.counts.updated += 1
                outcome = "updated"
            if self.recorder is not None:
                self._changed.append((key, row, outcome))
        if self.pending() >= self.batch_size:
            self.flush()
        return outcome

    def pending(self) -> int:
        return len(self._create) + sum(len(rows) for rows in self._update.values())

    def flush(self) -> None:
        if not self.pending():
            return
        recorder = self.recorder
        with transaction.atomic():
            old = recorder.read_old([row.pk for _, row, _ in self._changed]) if recorder else {}
            if self._create:
                rows = [row for _, row in self._create]
                insert_instances(model=self.model, instances=rows, batch_size=self.batch_size)
                for (key, _), row in zip(self._create, rows, strict=True):
                    self.pks[key] = row.pk
            for fields, rows in self._update.items():
                update_instances(model=self.model, instances=rows, fields=fields)
            if self.on_flush is not None:
                self.on_flush()
            if recorder is not None:
                recorder.record(created=self._create, changed=self._changed, old=old)
        self._create.clear()
        self._update.clear()
        self._changed.clear()

    def missing_candidates(self) -> list[int]:
        return [row[0] for key, row in self.existing.items() if key not in self.seen and not row[2]]

    def present_before(self) -> int:
        return sum(1 for row in self.existing.values() if not row[2])
