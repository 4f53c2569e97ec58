"""The catalogued artifacts of a walk, read in listing order and matched against it.

S3 lists a prefix in the binary (UTF-8, code point) order of its keys. Reading the
catalogued rows of the same prefix in the same order turns "is this listed key
catalogued, and as what?" into a merge of two sorted streams: no map of every key in
memory, so the sync's memory stays flat however big the bucket is, and no hash table
to build and probe per key (ADR 0013).

The rows are read in keyset pages (``key > last ORDER BY key LIMIT n``) of complete
statements, not one long cursor: the sync writes the same table between pages, on
the same connection or from its writer process. No page can hold a row the sync
inserted: the sync inserts only keys it has listed, and ``ListingMatch`` reads the
next page as soon as the listing reaches the end of the last one, so every listed key
lies at or below the last key read (or the rows have all been read).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from operator import itemgetter, lt

from django.db import connection
from django.db.models import F
from django.db.models.functions import Collate

from catalog.models import Artifact
from catalog.sync.bulk import IS_MISSING

# Rows read per statement: a few MB of tuples, and 50 statements per million rows.
PAGE_ROWS = 20000


# One catalogued artifact row as the database driver returns it: (pk, key, fingerprint,
# gone), gone truthy for a row marked missing. Plain tuples, not named ones: making a
# named tuple per row cost ~0.9 s per million rows on the slowest machine measured.
StoredRow = tuple[int, str, str, bool]
PK, KEY, FINGERPRINT, GONE = range(4)


def binary_key():
    """``Artifact.key`` compared and ordered by code point, as S3 and Python order it.

    SQLite compares text as bytes already (its BINARY collation). PostgreSQL compares
    by the column's collation: the key column is "C" there (migration 0003), so this
    matches its index; on a column that lost it the reads stay right, only slower.
    """
    if connection.vendor == "postgresql":
        return Collate("key", "C")
    return F("key")


def prefix_upper_bound(prefix: str) -> str | None:
    """The least string above every string that starts with ``prefix`` (None: none)."""
    if not prefix or prefix[-1] == "\U0010ffff":
        return None
    following = ord(prefix[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:
        following = 0xE000  # surrogates are no characters of a UTF-8 key
    return prefix[:-1] + chr(following)


def _rows_of(bucket: str):
    return Artifact.objects.filter(bucket=bucket).annotate(
        ordered_key=binary_key(), gone=IS_MISSING
    )


def stored_row(*, bucket: str, key: str) -> StoredRow | None:
    """The one row stored under ``key``, as ``StoredRows`` gives rows (None: none)."""
    return _rows_of(bucket).filter(key=key).values_list("pk", "key", "fingerprint", "gone").first()


class StoredRows:
    """The rows of ``bucket`` under ``prefix``, in key order; ``present`` counts as read.

    ``start`` and ``stop`` narrow it to the keys from ``start`` (default: the prefix)
    up to, not including, ``stop`` (default: the prefix's end): one listing range
    (``catalog.sync.artifacts.ranges``); ``stop`` must itself start with the prefix.
    """

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str,
        page_rows: int | None = None,
        start: str | None = None,
        stop: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.page_rows = page_rows or PAGE_ROWS
        self.start = prefix if start is None else start
        self.stop = stop
        self.present = 0  # rows read that were not marked missing

    def __iter__(self) -> Iterator[StoredRow]:
        rows = _rows_of(self.bucket)
        upper = prefix_upper_bound(self.prefix) if self.stop is None else self.stop
        if upper is not None:
            rows = rows.filter(ordered_key__lt=upper)
        elif self.prefix:
            rows = rows.filter(key__startswith=self.prefix)  # a prefix ending in U+10FFFF
        rows = rows.order_by("ordered_key").values_list("pk", "key", "fingerprint", "gone")
        page = rows.filter(ordered_key__gte=self.start)
        previous = None
        while True:
            sql, params = page[: self.page_rows].query.sql_with_params()
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                fetched = cursor.fetchall()
            if not fetched:
                return
            keys = list(map(itemgetter(KEY), fetched))
            if previous is not None:
                keys.insert(0, previous)
            # The merge is only right if the database orders keys as Python does.
            if not all(map(lt, keys, islice(keys, 1, None))):
                raise RuntimeError(
                    "artifact keys came back out of code point order "
                    f"(s3://{self.bucket}/{self.prefix}, after {previous!r}): "
                    "is migration catalog.0003 applied?"
                )
            previous = keys[-1]
            self.present += len(fetched) - sum(1 for row in fetched if row[GONE])
            yield from fetched
            if len(fetched) < self.page_rows:
                return
            page = rows.filter(ordered_key__gt=previous)


class ListingMatch:
    """Matches a listing, key by key, against stored rows read in the same order.

    ``take(key)`` returns the row stored under ``key`` (or None: not catalogued) and
    reads on to the first row above ``key``. Stored rows that the listing passed
    without naming are kept aside, so a listing out of order is matched rightly too,
    only with more of them held in memory; in S3's order that is just the rows that are
    gone from the bucket.
    """

    def __init__(self, rows: Iterator[StoredRow]):
        self._rows = iter(rows)
        self._head = next(self._rows, None)
        self._passed: dict[str, StoredRow] = {}

    def take(self, key: str) -> StoredRow | None:
        head = self._head
        rows = self._rows
        # The common case first: the listing names the next stored row.
        if head is not None and head[KEY] == key:
            self._head = next(rows, None)
            return head
        while head is not None and head[KEY] < key:
            self._passed[head[KEY]] = head
            head = next(rows, None)
        if head is not None and head[KEY] == key:
            self._head = next(rows, None)
            return head
        self._head = head
        if self._passed:
            return self._passed.pop(key, None)
        return None

    def unlisted(self) -> Iterator[StoredRow]:
        """The stored rows no ``take`` named: all of them read, once the listing ended."""
        yield from self._passed.values()
        self._passed.clear()
        if self._head is not None:
            yield self._head
            self._head = None
        yield from self._rows
