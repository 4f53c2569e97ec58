"""A walk matched range by range against its stored listing ranges (ADR 0015).

The artifact stage hands every listed object of a walk that has trusted ranges to
``RangedWalk``: the objects of the current range wait in ``buffer``, their digest
entries in ``entries``. When the listing passes into the next range, ``close()``
compares the waiting range's digest with the stored one. Equal: its objects are
unchanged and no row is read. Different: its rows are read (one bounded query) and
merged with the waiting objects exactly as a walk without ranges merges all of its,
and the range is cut again from what was listed.
"""

from __future__ import annotations

from collections.abc import Callable

from catalog.sync.artifacts.ranges import KeyRange, RangeBuilder, range_digest
from catalog.sync.artifacts.rows import ListedArtifact
from catalog.sync.artifacts.stored import (
    FINGERPRINT,
    GONE,
    PK,
    ListingMatch,
    StoredRow,
    StoredRows,
    stored_row,
)

# One waiting object: the fields of a ``ListedArtifact`` as a plain tuple (a named one
# per listed object would cost a no-change sync; see ``rows.ListedArtifact``).
Waiting = tuple


class RangedWalk:
    """One walk's stored ranges, closed in key order as the listing passes them.

    ``queue(listed, fingerprint, old)`` (``ArtifactQueue.queue``) queues the writes of
    a new, changed or restored object (``old``: its stored row or None). After the
    walk: ``missing`` (pks of present rows not listed in a closed range),
    ``unchanged``, ``present`` (present rows of the closed ranges), and for the next
    sync ``replaced`` (starts of the ranges that changed) and ``fresh`` (the ranges
    replacing them).
    """

    def __init__(
        self, *, stored: list[KeyRange], bucket: str, prefix: str, queue: Callable[..., None]
    ) -> None:
        self.stored = stored
        self.bucket = bucket
        self.prefix = prefix
        self.queue = queue
        self.index = 0  # the range the listing is in
        self.buffer: list[Waiting] = []
        self.entries: list[str] = []
        self.missing: list[int] = []
        self.unchanged = 0
        self.present = 0
        self.replaced: set[str] = set()
        self.fresh: list[KeyRange] = []

    @property
    def done(self) -> bool:
        return self.index >= len(self.stored)

    def next_start(self) -> str | None:
        """The first key of the range after the current one (None: it is the last)."""
        following = self.index + 1
        return self.stored[following].start if following < len(self.stored) else None

    def close(self) -> None:
        """Decide the current range from its waiting objects, then move to the next."""
        if self.done:
            return
        key_range = self.stored[self.index]
        buffer, entries = self.buffer, self.entries
        if len(buffer) == key_range.rows and range_digest(entries) == key_range.digest:
            self.unchanged += len(buffer)
            self.present += key_range.rows
        else:
            self._merge(key_range, stop=self.next_start())
        buffer.clear()
        entries.clear()
        self.index += 1

    def close_rest(self) -> None:
        """Close the current range and every later one (the listing has ended)."""
        while not self.done:
            self.close()

    def _merge(self, key_range: KeyRange, *, stop: str | None) -> None:
        rows = StoredRows(bucket=self.bucket, prefix=self.prefix, start=key_range.start, stop=stop)
        match = ListingMatch(rows)
        for waiting in self.buffer:
            self._settle(waiting, match.take(waiting[1]))
        self.missing.extend(row[PK] for row in match.unlisted() if not row[GONE])
        self.present += rows.present
        self.replaced.add(key_range.start)
        builder = RangeBuilder(key_range.start)
        for waiting, entry in zip(self.buffer, self.entries, strict=True):
            builder.add(waiting[1], entry)
        self.fresh.extend(builder.finish())

    def late(self, *waiting: object) -> None:
        """An object listed out of key order, into a range already closed.

        Looked up by its key alone; a row its range took for unlisted is listed after
        all. (The walk's ranges are then not kept: see the artifact stage.)
        """
        old = stored_row(bucket=self.bucket, key=waiting[1])
        if old is not None and old[PK] in self.missing:
            self.missing.remove(old[PK])
        self._settle(waiting, old)

    def _settle(self, waiting: Waiting, old: StoredRow | None) -> None:
        """Count a listed object unchanged, or queue its writes (``old``: its row)."""
        listed = ListedArtifact._make(waiting)
        fingerprint = listed.fingerprint()
        if old is not None and old[FINGERPRINT] == fingerprint and not old[GONE]:
            self.unchanged += 1
            return
        self.queue(listed, fingerprint, old)
