"""A walk's listing cut into key ranges, each with the digest of what it listed (ADR 0015).

A no-change sync at a million objects spent most of its artifact stage reading the
catalogued rows back to compare them with the listing. Instead, the sync remembers,
per walk, ranges of about ``RANGE_ROWS`` consecutive keys and a digest of every object
it listed in each: key and the same fields as the row's fingerprint, in listing
order. The next sync hashes its own listing of each range; where the digests agree,
every catalogued row of the range is as listed and none is gone from S3, so it reads
no row there. Where they differ, it reads that range's rows (one bounded query) and
merges as before, and replaces the range.

The digests hold only if every range was written by a sync that also wrote and
marked missing everything its listing said. So they are trusted only after a sync
that ended ``ok`` (``catalog.sync.service``), only for a walk listed completely and in
key order, and a walk that wrote rows drops other walks' ranges over the same keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter

from django.db import connection

from catalog.models import Artifact, ListingRange
from catalog.sync.artifacts.stored import prefix_upper_bound
from catalog.sync.layout import prefixes_overlap

# Objects per range: a changed object makes its whole range be read and re-hashed, so
# ranges are small next to a page of rows; 2,000 ranges per million objects.
RANGE_ROWS = 500
_DELETE_CHUNK = 500


# hashlib releases the GIL while it hashes 2,048 bytes or more at once. The artifact
# stage then waits for the listing thread to hand it back, which cost more than the
# hash: a range is hashed in smaller pieces.
_HASH_PIECE = 2000


def range_digest(entries: Iterable[str]) -> str:
    """The digest of a range's listing: its entries, in listing order."""
    data = memoryview("".join(entries).encode())
    hasher = hashlib.blake2b(digest_size=16)
    for start in range(0, len(data), _HASH_PIECE):
        hasher.update(data[start : start + _HASH_PIECE])
    return hasher.hexdigest()


@dataclass(frozen=True, slots=True)
class KeyRange:
    """Keys from ``start`` up to the next range's start; ``rows`` objects listed there."""

    start: str
    rows: int
    digest: str


class RangeBuilder:
    """Cuts a stretch of a listing into ranges of ``RANGE_ROWS`` objects as it goes.

    A walk with no ranges stored is one stretch from its prefix; a changed range, one
    from its start. The first range keeps that start (the stretch may begin below its
    first key); each later one starts at its first key. An empty stretch is one empty
    range.
    """

    def __init__(self, start: str) -> None:
        self.ranges: list[KeyRange] = []
        self._start = start
        self._entries: list[str] = []

    def add(self, key: str, entry: str) -> None:
        if len(self._entries) >= RANGE_ROWS:
            self._close()
            self._start = key
        self._entries.append(entry)

    def _close(self) -> None:
        entries = self._entries
        self.ranges.append(
            KeyRange(start=self._start, rows=len(entries), digest=range_digest(entries))
        )
        self._entries = []

    def finish(self) -> list[KeyRange]:
        self._close()
        return self.ranges


def load_ranges(*, bucket: str, walk_prefix: str) -> list[KeyRange]:
    """The walk's stored ranges in key (code point) order; empty if it has none.

    Sorted here rather than by the database, whose collation may not be code point
    order; a stored set that does not begin at the walk's prefix is not used.
    """
    rows = ListingRange.objects.filter(bucket=bucket, walk_prefix=walk_prefix).values_list(
        "start_key", "rows", "digest"
    )
    ranges = sorted(
        (KeyRange(start=start, rows=n, digest=digest) for start, n, digest in rows),
        key=attrgetter("start"),
    )
    if ranges and ranges[0].start != walk_prefix:
        return []
    return ranges


def rows_agree(*, bucket: str, walk_prefix: str, ranges: list[KeyRange]) -> bool:
    """Whether the walk's present rows are as many as its ranges listed last time.

    Catches rows inserted or deleted by anything but a sync (a shell, a restore),
    which would make the digests lie. Two counts, no row fetched: all the walk's rows
    (SQLite reads its natural key index; PostgreSQL scans, 0.1-0.2 s at a million),
    less the gone ones, through their own partial index (``artifact_gone``).
    """
    upper = prefix_upper_bound(walk_prefix)
    if upper is None and walk_prefix:
        return False  # a prefix ending in U+10FFFF: no bound to count by
    # The key compared as the merge reads it (catalog.sync.artifacts.stored.binary_key).
    key = 'key COLLATE "C"' if connection.vendor == "postgresql" else "key"
    where = f"bucket = %s AND {key} >= %s"
    params = [bucket, walk_prefix]
    if upper is not None:
        where += f" AND {key} < %s"
        params.append(upper)
    table = connection.ops.quote_name(Artifact._meta.db_table)
    # SQLite's planner would walk the natural key's index for the gone rows too; the
    # gone index is a few rows. PostgreSQL picks it from its statistics.
    gone_index = " INDEXED BY artifact_gone" if connection.vendor == "sqlite" else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}", params)  # noqa: S608
        (every,) = cursor.fetchone()
        cursor.execute(
            f"SELECT COUNT(*) FROM {table}{gone_index}"  # noqa: S608
            f" WHERE missing_since IS NOT NULL AND {where}",
            params,
        )
        (gone,) = cursor.fetchone()
    return every - gone == sum(key_range.rows for key_range in ranges)


@dataclass
class WalkRanges:
    """What one walk leaves for the next sync: its ranges, whole or in part.

    ``replaced`` None: ``ranges`` is the walk's whole new set. Otherwise the stored ranges
    starting at the keys in ``replaced`` give way to ``ranges``; the rest stay.
    ``wrote``: the walk wrote or marks rows, so overlapping walks' ranges are stale.
    """

    bucket: str
    walk_prefix: str
    ranges: list[KeyRange]
    replaced: set[str] | None
    wrote: bool


def save_ranges(walks: list[WalkRanges], *, dropped: list[tuple[str, str]]) -> None:
    """Store each walk's ranges; forget the ``dropped`` walks' (bucket, prefix) ones."""
    for bucket, walk_prefix in dropped:
        ListingRange.objects.filter(bucket=bucket, walk_prefix=walk_prefix).delete()
    for walk in walks:
        if walk.wrote:
            _forget_overlapping(walk.bucket, walk.walk_prefix)
        stored = ListingRange.objects.filter(bucket=walk.bucket, walk_prefix=walk.walk_prefix)
        if walk.replaced is None:
            if load_ranges(bucket=walk.bucket, walk_prefix=walk.walk_prefix) == walk.ranges:
                continue  # an untrusted walk that found its ranges as they were
            stored.delete()
        else:
            starts = sorted(walk.replaced)
            for first in range(0, len(starts), _DELETE_CHUNK):
                stored.filter(start_key__in=starts[first : first + _DELETE_CHUNK]).delete()
        ListingRange.objects.bulk_create(
            [
                ListingRange(
                    bucket=walk.bucket,
                    walk_prefix=walk.walk_prefix,
                    start_key=key_range.start,
                    rows=key_range.rows,
                    digest=key_range.digest,
                )
                for key_range in walk.ranges
            ],
            batch_size=500,
        )


def _forget_overlapping(bucket: str, walk_prefix: str) -> None:
    """Drop other walks' ranges over this walk's keys: its writes made them stale."""
    others = ListingRange.objects.filter(bucket=bucket).exclude(walk_prefix=walk_prefix)
    prefixes = set(others.values_list("walk_prefix", flat=True).distinct())
    stale = [prefix for prefix in prefixes if prefixes_overlap(prefix, walk_prefix)]
    if stale:
        others.filter(walk_prefix__in=stale).delete()
