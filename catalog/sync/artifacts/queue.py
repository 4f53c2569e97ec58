"""The artifact stage's writes of one bucket: queued per object, written a batch at a time.

New rows go in as database-ready ``ArtifactInsertRow`` tuples (``rows``); the rare
changed rows wait as instances (their meta may be read again) and become update tuples when
their batch is written.

Content reads run beside the walk (``catalog.sync.artifacts.content``): a new row's meta
slot holds a placeholder until its file is parsed. Changed rows of ``MLmodel`` /
``feature_names.txt`` files wait until the flush too, which asks the database for
their ``meta_etag`` in one query: the content is read again only if it was parsed from
another ETag. A flush hands its files to the parser and writes the batch before it:
while the parse process works on this batch, the walk's thread writes the last one and
walks on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from catalog.model_files import CONTENT_FILE_NAMES, content_kind
from catalog.models import Artifact
from catalog.sync.artifacts.content import ContentRead, ContentReader, ParsedBatch
from catalog.sync.artifacts.rows import ArtifactInsertRow, ListedArtifact, artifact_update_row
from catalog.sync.artifacts.stored import GONE, PK, StoredRow
from catalog.sync.artifacts.writer import ArtifactWriter, ArtifactWrites
from catalog.sync.bulk import db_datetime, json_text
from catalog.sync.changes.artifacts import ArtifactTally
from catalog.sync.report import SyncReport
from catalog.sync.text_limits import fit_json_text


@dataclass
class _Batch:
    """One flush's writes, waiting for their files' parse."""

    creates: list[ArtifactInsertRow]
    content_slots: list[int]  # indexes in ``creates`` whose meta is parsed (in order)
    updates: list[Artifact]
    content_updates: list[Artifact]  # changed rows whose content was read again
    parsed: ParsedBatch


class ArtifactQueue:
    """One bucket's artifact writes, flushed every ``batch_size`` objects.

    ``queue()`` takes a listed object that is new, changed or back; ``flush()`` hands
    what waits to the parser and writes the batch before it; ``write_waiting()`` writes
    the last one (call it before anything reads the rows, and at the end of the
    bucket). ``statements`` counts the batches that wrote rows: the writer process's
    statements pass no execute wrapper of the sync's. ``tally``, when given, is told
    of every queued object, for the sync's change events.
    """

    def __init__(
        self,
        *,
        bucket: str,
        reader: ContentReader,
        writer: ArtifactWriter,
        report: SyncReport,
        now: datetime,
        batch_size: int,
        tally: ArtifactTally | None = None,
    ) -> None:
        self.bucket = bucket
        self.tally = tally
        self.reader = reader
        self.writer = writer
        self.report = report
        self.counts = report.counts["artifacts"]
        self.now = now
        self.now_db = db_datetime(now)
        self.empty_meta_db = json_text({})
        self.batch_size = batch_size
        self.statements = 0
        # Bytes of the new rows: the first sync's summary event says how much it imported.
        self.created_bytes = 0
        self._creates: list[ArtifactInsertRow] = []
        self._content_slots: list[int] = []  # creates whose files were requested, in order
        self._updates: list[Artifact] = []
        self._meta_pending: list[tuple[Artifact, str]] = []
        self._waiting: list[_Batch] = []

    def queue(self, listed: ListedArtifact, digest: str, old: StoredRow | None) -> None:
        """Queue the writes of one listed object whose fingerprint is ``digest``.

        ``old`` is its stored row (changed, or back after being missing), or None (new).
        """
        record, key = listed.record, listed.key
        # endswith() first: one C call rules out 4 keys in 5.
        kind = content_kind(key) if key.endswith(CONTENT_FILE_NAMES) else None
        folder = listed.path.rpartition("/")[0]
        if old is None:
            if kind is not None:
                self.reader.request(bucket=self.bucket, key=key, kind=kind)
                self._content_slots.append(len(self._creates))
            self._creates.append(
                ArtifactInsertRow(
                    bucket=self.bucket,
                    key=key,
                    run_id=listed.run_pk,
                    logged_model_id=listed.model_pk,
                    path=listed.path,
                    folder=folder,
                    orphan_folder=listed.group,
                    size=record.size,
                    etag=record.etag,
                    last_modified=listed.modified_db,
                    meta=self.empty_meta_db,  # replaced once the file is parsed
                    meta_etag=record.etag if kind is not None else "",
                    fingerprint=digest,
                    first_seen=self.now_db,
                    last_seen=self.now_db,
                )
            )
            self.counts.created += 1
            self.created_bytes += record.size
        else:
            row = Artifact(
                pk=old[PK],
                key=key,
                run_id=listed.run_pk,
                logged_model_id=listed.model_pk,
                path=listed.path,
                folder=folder,
                orphan_folder=listed.group,
                size=record.size,
                etag=record.etag,
                last_modified=record.last_modified,
                fingerprint=digest,
                last_seen=self.now,
                missing_since=None,
            )
            if kind is None:
                self._updates.append(row)
            else:
                self._meta_pending.append((row, kind))
            if old[GONE]:
                self.counts.restored += 1
            else:
                self.counts.updated += 1
        if self.tally is not None:
            self.tally.note(
                bucket=self.bucket, key=key, run_pk=listed.run_pk, model_pk=listed.model_pk,
                group=listed.group, size=record.size,
                was="new" if old is None else "gone" if old[GONE] else "present",
            )  # fmt: skip
        if len(self._creates) + len(self._updates) + len(self._meta_pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Hand the queued objects' files to the parser; write the batch before them."""
        if not (self._creates or self._updates or self._meta_pending):
            return
        if self.tally is not None:
            # Before this batch's rows are written: were their orphan folders new?
            self.tally.settle_orphans(bucket=self.bucket)
        content_updates: list[Artifact] = []
        if self._meta_pending:
            pending = self._meta_pending
            parsed_from = dict(
                Artifact.objects.filter(pk__in=[row.pk for row, _ in pending]).values_list(
                    "pk", "meta_etag"
                )
            )
            for row, kind in pending:
                if parsed_from.get(row.pk) == row.etag:
                    self._updates.append(row)
                else:
                    content_updates.append(row)
                    self.reader.request(bucket=self.bucket, key=row.key, kind=kind)
            self._meta_pending = []
        # The new rows' files were requested during the walk, the changed rows' just
        # now: fetched() returns them in that order.
        raws = self.reader.fetched()
        batch = _Batch(
            creates=self._creates,
            content_slots=self._content_slots,
            updates=self._updates,
            content_updates=content_updates,
            parsed=self.reader.parse(raws),
        )
        self._creates, self._content_slots, self._updates = [], [], []
        self.write_waiting()
        self._waiting.append(batch)

    def write_waiting(self) -> None:
        """Write the flushed batch that waits for its parse, if any."""
        while self._waiting:
            self._write(self._waiting.pop(0))

    def _write(self, batch: _Batch) -> None:
        """Write one flush's rows, with the meta parsed from their files."""
        results = batch.parsed.results()
        creates = batch.creates
        for index, result in zip(batch.content_slots, results, strict=False):
            row = creates[index]
            creates[index] = row._replace(meta=self._meta_json(result, key=row.key))
        changed = results[len(batch.content_slots) :]
        meta_updates = batch.content_updates
        for row, result in zip(meta_updates, changed, strict=True):
            row.meta = json.loads(self._meta_json(result, key=row.key))
            row.meta_etag = row.etag
        writes = ArtifactWrites(
            # Plain tuples for the writer process: a named tuple is pickled through a
            # Python-level __getnewargs__ and rebuilt through its __new__, which made a
            # 5,000-row batch's round trip ~4x slower than the copy to tuples.
            creates=[tuple(row) for row in creates],
            updates=[artifact_update_row(row) for row in batch.updates],
            meta_updates=[artifact_update_row(row, with_meta=True) for row in meta_updates],
        )
        if writes.rows:
            self.statements += 1
        self.writer.write(writes)

    def _meta_json(self, result: ContentRead, *, key: str) -> str:
        """A file's parsed meta as JSON text both databases store (ADR 0016)."""
        return fit_json_text(
            self._collect(result).meta_json,
            item=f"s3://{self.bucket}/{key}",
            field="parsed content",
            warn=self.report.warn,
        )

    def _collect(self, result: ContentRead) -> ContentRead:
        """``result``, its warning recorded (in the order files were listed)."""
        if result.warning:
            self.report.warn(result.warning)
        return result
