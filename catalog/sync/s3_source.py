"""The sync's S3 source: each bucket root listed once, small files read with a byte cap.

``S3Source`` walks a root with the ``list_objects_v2`` paginator and yields
``ArtifactRecord`` values (or a ``SkippedKey`` for a key the catalogue cannot hold), and
reads ``MLmodel`` / ``feature_names.txt`` heads through ``catalog.s3`` (the S3 client
and reads shared with the pages).

Keys are listed with ``EncodingType='url'`` and unquoted here, so a key that is not
valid UTF-8 reaches us as bytes we can report instead of a decoding crash in boto3.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from botocore.exceptions import BotoCoreError, ClientError

from catalog.s3 import error_code, read_object_bytes
from catalog.sync.layout import S3_KEY_MAX_BYTES
from catalog.sync.prefetch import prefetched
from catalog.sync.records import ArtifactRecord, S3Root, SourceError

LIST_PAGE_SIZE = 1000
# Listing pages requested ahead of the one the sync works on (catalog.sync.prefetch).
LIST_PREFETCH_PAGES = 2
# Characters of a skipped key shown in its warning.
SHOWN_KEY_CHARS = 200


class S3ListingError(SourceError):
    """A bucket walk failed part-way; ``listed`` objects were yielded before it."""

    def __init__(self, message: str, *, root: S3Root, listed: int) -> None:
        super().__init__(message)
        self.root = root
        self.listed = listed


# --- the sync's side -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UndecodableKey:
    """A listed key whose bytes are not UTF-8: reported as a warning, never stored."""

    bucket: str
    raw_key: bytes

    @property
    def warning(self) -> str:
        return f"s3://{self.bucket}: key {self.raw_key!r} is not UTF-8; skipped"


@dataclass(frozen=True, slots=True)
class UnstorableKey:
    """A listed key the catalogue cannot hold verbatim: reported, never stored.

    PostgreSQL's text refuses U+0000, which S3 allows in a key; and a key over S3's
    1,024 bytes (an S3-compatible store may list one) does not fit ``Artifact.key``.
    A key is stored verbatim or not at all (ADR 0016), so the object is skipped
    before the walk sees it: its ranges hash and count only what can be stored.
    """

    bucket: str
    key: str
    reason: str

    @property
    def warning(self) -> str:
        shown = repr(self.key[:SHOWN_KEY_CHARS])[1:-1]
        if len(self.key) > SHOWN_KEY_CHARS:
            shown += "..."
        return f"s3://{self.bucket}/{shown}: key cannot be stored: {self.reason}; skipped"


# Skipped objects: whatever the sync cannot catalogue, and says so in a warning.
SkippedKey = UndecodableKey | UnstorableKey


class S3Source:
    """Walks bucket roots and reads small files for the sync.

    ``client`` is a boto3 S3 client (``catalog.s3.make_s3_client()``); tests hand in one bound to
    moto. ``get_object_calls`` counts content reads, so a no-change sync can prove it
    read nothing. ``prefetch_pages`` listing pages are fetched on a thread ahead of the
    one the sync is working on, so S3's round trips overlap the sync's own work; 0
    lists on the caller's thread.
    """

    def __init__(
        self,
        *,
        client: Any,
        page_size: int = LIST_PAGE_SIZE,
        prefetch_pages: int = LIST_PREFETCH_PAGES,
    ) -> None:
        self.client = client
        self.page_size = page_size
        self.prefetch_pages = prefetch_pages
        self.get_object_calls = 0
        # read_head runs on the sync's reader threads (catalog.sync.artifacts.content).
        self._calls_lock = threading.Lock()

    def iter_root(self, *, root: S3Root) -> Iterator[ArtifactRecord | SkippedKey]:
        """Every object under ``root``, one paginated walk, in key order.

        A key the catalogue cannot store comes as a ``SkippedKey`` (not UTF-8, holds
        NUL, too long) carrying its warning, in its place in the listing.

        Raises ``S3ListingError`` when a page fails (after boto3's retries); what was
        yielded before stays valid. Pages are requested up to ``prefetch_pages`` ahead;
        a page's error still surfaces here after the objects of the pages before it,
        and closing this generator early stops the listing.
        """
        paginator = self.client.get_paginator("list_objects_v2")
        pages = prefetched(
            paginator.paginate(
                Bucket=root.bucket,
                Prefix=root.prefix,
                EncodingType="url",
                PaginationConfig={"PageSize": self.page_size},
            ),
            depth=self.prefetch_pages,
            name=f"sync-list-{root.bucket}",
        )
        listed = 0
        try:
            for page in pages:
                for item in page.get("Contents", ()):
                    listed += 1
                    raw = unquote_to_bytes(item["Key"])
                    try:
                        key = raw.decode("utf-8")
                    except UnicodeDecodeError:
                        yield UndecodableKey(bucket=root.bucket, raw_key=raw)
                        continue
                    # Two C-level tests per key on the bytes at hand, no regex: this
                    # runs once per object of the bucket.
                    if b"\x00" in raw or len(raw) > S3_KEY_MAX_BYTES:
                        yield _unstorable(root.bucket, key, raw)
                        continue
                    yield ArtifactRecord(
                        bucket=root.bucket,
                        key=key,
                        size=int(item.get("Size", 0)),
                        etag=str(item.get("ETag", "")).strip('"'),
                        last_modified=item.get("LastModified"),
                    )
        except (ClientError, BotoCoreError, OSError) as error:
            reason = error_code(error) if isinstance(error, ClientError) else str(error)
            raise S3ListingError(
                f"listing s3://{root.bucket}/{root.prefix} failed after {listed} objects: "
                f"{reason or type(error).__name__}",
                root=root,
                listed=listed,
            ) from error
        finally:
            # The caller stopped early (or failed): the listing thread must not go on
            # requesting pages nobody will read.
            pages.close()

    def read_head(self, *, bucket: str, key: str, max_bytes: int) -> bytes:
        """At most ``max_bytes`` of an object; raises ``ObjectUnavailable``."""
        with self._calls_lock:
            self.get_object_calls += 1
        return read_object_bytes(client=self.client, bucket=bucket, key=key, max_bytes=max_bytes)


def _unstorable(bucket: str, key: str, raw: bytes) -> UnstorableKey:
    if b"\x00" in raw:
        reason = "contains NUL"
    else:
        reason = f"{len(raw):,} bytes of UTF-8, over S3's {S3_KEY_MAX_BYTES:,}"
    return UnstorableKey(bucket=bucket, key=key, reason=reason)
