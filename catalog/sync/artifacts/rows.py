"""One artifact as the walk sees it and as the table stores it, defined once.

* ``ListedArtifact``: a listed object with its owner resolved (run or logged model, the
  path under the owner's ``artifacts/`` folder, else its orphan group), as the walk
  hands it to the write queue;
* ``row_fingerprint``: what a row's ``fingerprint`` is a digest of; a listed object
  whose fingerprint equals its row's is unchanged and costs no write;
* ``listing_entry``: the same fields plus the key, as a listed object enters its
  range's digest (``ranges``);
* ``ArtifactInsertRow``: a new row, database-ready; its field names are the insert
  columns. ``ARTIFACT_UPDATE_COLUMNS`` / ``artifact_update_row`` for a changed row.

Adding a field to ``Artifact`` that comes from the listing: a field of
``ListedArtifact`` (if the walk computes it), of ``ArtifactInsertRow`` and
``ARTIFACT_UPDATE_COLUMNS``, and a term of ``row_fingerprint`` and ``listing_entry``.

No model is imported at import time: the writer process imports this before it sets
Django up.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, NamedTuple

from catalog.sync.bulk import db_datetime, db_json
from catalog.sync.records import ArtifactRecord

if TYPE_CHECKING:
    from catalog.models import Artifact


class ListedArtifact(NamedTuple):
    """A listed object and where it belongs, as the walk resolved it.

    ``modified_db`` is ``LastModified`` as the database takes it, ``modified_text`` as
    the fingerprint holds it (ISO 8601, "" if none). The walk's hot loop keeps these
    values in locals and makes a ``ListedArtifact`` only for an object that is written
    (or, in a ranged walk, a plain tuple of these fields, named if its range changed):
    one per object of a no-change sync would cost it ~6% (measured: ~0.35 us each).
    """

    record: ArtifactRecord
    key: str
    run_pk: int | None
    model_pk: int | None
    path: str
    group: str  # the orphan folder ("" for an owned object)
    modified_db: Any
    modified_text: str

    def fingerprint(self) -> str:
        """This object's ``row_fingerprint``."""
        record = self.record
        return row_fingerprint(
            self.run_pk, self.model_pk, self.path, self.group,
            record.size, record.etag, self.modified_text,
        )  # fmt: skip


def row_fingerprint(
    run_pk: int | None,
    model_pk: int | None,
    path: str,
    group: str,
    size: int,
    etag: str,
    modified_text: str,
) -> str:
    """The digest of every listed field a row stores (the walk's loop inlines it)."""
    fields = f"{run_pk}|{model_pk}|{path}|{group}|{size}|{etag}|{modified_text}"
    return hashlib.blake2b(fields.encode(), digest_size=16).hexdigest()


def listing_entry(
    key: str,
    path: str,
    group: str,
    etag: str,
    run_pk: int | None,
    model_pk: int | None,
    size: int,
    modified_text: str,
) -> str:
    """One listed object as it enters its range's digest: its key and its fingerprint's fields.

    The strings are length-prefixed, so no two different listings make the same text:
    a key (and so a path or group) may hold any character, an ETag from an
    S3-compatible store too. The rest can't hold the ``|`` between them.
    """
    return (
        f"{len(key)}:{key}{len(path)}:{path}{len(group)}:{group}{len(etag)}:{etag}"
        f"{run_pk}|{model_pk}|{size}|{modified_text}|"
    )


class ArtifactInsertRow(NamedTuple):
    """A new ``catalog_artifact`` row as the database takes it; fields are its columns."""

    bucket: str
    key: str
    run_id: int | None
    logged_model_id: int | None
    path: str
    folder: str
    orphan_folder: str
    size: int
    etag: str
    last_modified: Any
    meta: str  # JSON text
    meta_etag: str
    fingerprint: str
    first_seen: Any
    last_seen: Any


ARTIFACT_TABLE = "catalog_artifact"
ARTIFACT_INSERT_COLUMNS = ArtifactInsertRow._fields
ARTIFACT_UPDATE_COLUMNS = (
    "run_id", "logged_model_id", "path", "folder", "orphan_folder", "size", "etag",
    "last_modified", "fingerprint", "last_seen", "missing_since",
)  # fmt: skip
ARTIFACT_META_UPDATE_COLUMNS = (*ARTIFACT_UPDATE_COLUMNS, "meta", "meta_etag")


def artifact_update_row(row: Artifact, *, with_meta: bool = False) -> tuple:
    """A changed artifact as the values of ARTIFACT_UPDATE_COLUMNS (+ meta), then its pk."""
    values = (
        row.run_id, row.logged_model_id, row.path, row.folder, row.orphan_folder, row.size,
        row.etag, db_datetime(row.last_modified), row.fingerprint, db_datetime(row.last_seen),
        None,
    )  # fmt: skip
    if with_meta:
        values += (db_json(row.meta), row.meta_etag)
    return (*values, row.pk)
