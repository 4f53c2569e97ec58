"""One walk of a bucket: each listed object given its owner and compared with its row.

For each listed object the walk finds its owner (the first ``.../artifacts/`` prefix
of its key that a known run or logged model has; none: an orphan, grouped by folder),
then decides whether its row changed and hands what did to the ``ArtifactQueue``. Two
ways to decide (ADR 0015):

* with the walk's listing ranges from a trusted sync (``catalog.sync.artifacts.ranges``),
  the listing is hashed range by range and only a range that hashes differently has
  its rows read (``RangedWalk``);
* without, the walk's rows are read beside the listing in the same order and compared
  one by one by fingerprint (``catalog.sync.artifacts.stored``, ADR 0013), and its ranges are cut
  as it goes for the next sync.

The loop runs once per object (ten million times in a big bucket), so the owner
lookup and the fingerprint are inlined in it, its attributes bound to locals.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from catalog.sync.artifacts.queue import ArtifactQueue
from catalog.sync.artifacts.ranged import RangedWalk
from catalog.sync.artifacts.ranges import KeyRange, RangeBuilder
from catalog.sync.artifacts.rows import ListedArtifact, listing_entry
from catalog.sync.artifacts.stored import FINGERPRINT, GONE, PK, ListingMatch, StoredRows
from catalog.sync.bulk import datetime_adapter
from catalog.sync.layout import ARTIFACTS_SEGMENT, orphan_group
from catalog.sync.records import ArtifactRecord, S3Root, SourceError
from catalog.sync.report import SyncReport

# An owner: (run pk, logged model pk), one of them None.
Owner = tuple[int | None, int | None]


@dataclass
class WalkResult:
    """What one walk found; its missing rows count only if it ``listed_all``."""

    listed_all: bool = False
    error: SourceError | None = None
    in_order: bool = True  # every key after the one before it (ranges need that)
    missing: list[int] = field(default_factory=list)  # pks of present rows not listed
    present: int = 0  # present rows of the walk that were read or counted
    unchanged: int = 0
    ranges: list[KeyRange] = field(default_factory=list)  # for the next sync
    replaced: set[str] | None = None  # starts of the stored ranges that changed


class BucketWalk:
    """The walks of one bucket; ``owners`` maps ``.../artifacts/`` prefixes to owners."""

    def __init__(
        self,
        *,
        bucket: str,
        owners: dict[str, Owner],
        queue: ArtifactQueue,
        report: SyncReport,
    ) -> None:
        self.bucket = bucket
        self.owners = owners
        self.queue = queue
        self.report = report
        # A listing runs through one run's files in a row, mostly uploaded within the
        # same second: their LastModified is converted once, not once per object.
        self._adapt_datetime = datetime_adapter()

    def walk(
        self,
        *,
        root: S3Root,
        prefix: str,
        records: Iterator[Any],
        trusted_ranges: list[KeyRange] | None,
    ) -> WalkResult:
        """Match one walk's listed ``records`` (under ``prefix`` of group ``root``).

        ``trusted_ranges``: the walk's stored ranges, when they hold (else None).
        ``records`` may raise ``SourceError``: the result then has ``error`` and not
        ``listed_all``, and what was listed before it is written all the same.
        """
        bucket = self.bucket
        owners = self.owners
        queue = self.queue.queue
        report = self.report
        warn = report.warn
        adapt_datetime = self._adapt_datetime
        blake2b = hashlib.blake2b
        segment_length = len(ARTIFACTS_SEGMENT)
        root_prefix = root.prefix
        result = WalkResult()
        ranged = trusted_ranges is not None
        if ranged:
            ranges = RangedWalk(stored=trusted_ranges, bucket=bucket, prefix=prefix, queue=queue)
            current_start = trusted_ranges[0].start
            next_start = ranges.next_start()
            buffer = ranges.buffer
            entries = ranges.entries
        else:
            stored = StoredRows(bucket=bucket, prefix=prefix)
            match = ListingMatch(stored)
            take = match.take
            builder = RangeBuilder(prefix)
            add_to_range = builder.add
        unchanged = orphans = 0
        in_order = True
        last_key = ""  # S3 keys are never empty
        # The owner prefix that matched last, and its owner (none yet).
        owner_prefix = ""
        last_owner: Owner | None = None
        last_modified: object = None
        modified_text = ""
        modified_db = None
        try:
            for record in records:
                if not isinstance(record, ArtifactRecord):
                    # A key the catalogue cannot store (catalog.sync.s3_source.SkippedKey):
                    # outside the walk's ranges and rows alike, so they keep agreeing.
                    warn(record.warning)
                    continue
                key = record.key
                if key <= last_key:
                    in_order = False
                last_key = key
                # A listing is in key order, so one owner's files come in a row: a key
                # under the last owner's prefix has that owner (the search would find
                # the same first match), and skips the search.
                owner = None
                path = key
                if (
                    last_owner is not None
                    and key.startswith(owner_prefix)
                    and len(key) > len(owner_prefix)
                ):
                    owner = last_owner
                    path = key[len(owner_prefix) :]
                else:
                    index = key.find(ARTIFACTS_SEGMENT)
                    while index >= 0:
                        end = index + segment_length
                        owner = owners.get(key[:end])
                        if owner is not None:
                            path = key[end:]
                            if path:
                                owner_prefix = key[:end]
                                last_owner = owner
                            else:
                                owner = None
                                path = key
                            break
                        index = key.find(ARTIFACTS_SEGMENT, index + 1)
                if owner is None:
                    run_pk = model_pk = None
                    group = orphan_group(key=key, root_prefix=root_prefix)
                    orphans += 1
                else:
                    run_pk, model_pk = owner
                    group = ""
                modified = record.last_modified
                if modified != last_modified or modified is None:
                    last_modified = modified
                    modified_text = modified.isoformat() if modified else ""
                    modified_db = adapt_datetime(modified)
                entry = listing_entry(
                    key, path, group, record.etag, run_pk, model_pk, record.size, modified_text
                )
                if ranged:
                    # ListedArtifact's fields as a plain tuple (named if its range changed).
                    listed = (
                        record, key, run_pk, model_pk, path, group, modified_db, modified_text
                    )  # fmt: skip
                    if key < current_start:
                        # Out of order, into a range already decided: looked up alone.
                        ranges.late(*listed)
                        continue
                    while next_start is not None and key >= next_start:
                        ranges.close()
                        current_start = next_start
                        next_start = ranges.next_start()
                    buffer.append(listed)
                    entries.append(entry)
                    continue
                add_to_range(key, entry)
                # rows.row_fingerprint, inlined: a call per object costs the loop ~5%.
                digest = blake2b(
                    f"{run_pk}|{model_pk}|{path}|{group}|{record.size}|{record.etag}|"
                    f"{modified_text}".encode(),
                    digest_size=16,
                ).hexdigest()
                old = take(key)
                if old is not None and old[FINGERPRINT] == digest and not old[GONE]:
                    unchanged += 1
                    continue
                queue(
                    ListedArtifact(
                        record, key, run_pk, model_pk, path, group, modified_db, modified_text
                    ),
                    digest,
                    old,
                )
            result.listed_all = True
        except SourceError as error:
            result.error = error
        report.orphans += orphans
        result.in_order = in_order
        if ranged:
            # The range the listing was in is written as far as it was listed; its
            # unlisted rows, and the later ranges, only count once it is complete.
            ranges.close()
            if result.listed_all:
                ranges.close_rest()
            result.missing = ranges.missing
            result.unchanged = unchanged + ranges.unchanged
            result.present = ranges.present
            result.ranges = ranges.fresh
            result.replaced = ranges.replaced
            return result
        if result.listed_all:
            # The walk's unlisted present rows are its missing candidates. After a
            # listing cut short nothing is marked, so the rest is not read.
            result.missing = [row[PK] for row in match.unlisted() if not row[GONE]]
            result.ranges = builder.finish()
        result.unchanged = unchanged
        result.present = stored.present
        return result
