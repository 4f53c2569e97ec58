"""S3, through boto3: the only module that imports it.

Two sides:

* the web's read API (DESIGN: serving an artifact's bytes is the pages' one read of S3):
  ``make_s3_client``, ``get_web_s3_client``,
  ``read_object_bytes``, ``iter_object_chunks``, ``presigned_download_url`` and
  ``ObjectUnavailable``. The web reads an object only by its exact catalogued key;
* the sync's listing side: ``S3Source`` walks each bucket root once with the
  ``list_objects_v2`` paginator and yields ``ArtifactRecord`` values, and reads small
  files (``MLmodel``, ``feature_names.txt``) with a byte cap.

Keys are listed with ``EncodingType='url'`` and unquoted here, so a key that is not
valid UTF-8 reaches us as bytes we can report instead of a decoding crash in boto3.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from catalog.sync.layout import S3_KEY_MAX_BYTES
from catalog.sync.prefetch import prefetched
from catalog.sync.records import ArtifactRecord, S3Root, SourceError

# boto3's "standard" retry mode retries throttling (503 SlowDown, 429) and transient
# errors with exponential backoff; ten attempts ride out a short throttling burst.
RETRY_CONFIG = {"mode": "standard", "max_attempts": 10}
LIST_PAGE_SIZE = 1000
# Listing pages requested ahead of the one the sync works on (catalog.sync.prefetch).
LIST_PREFETCH_PAGES = 2
# Characters of a skipped key shown in its warning.
SHOWN_KEY_CHARS = 200


class ObjectUnavailable(Exception):
    """An object could not be read (missing, forbidden, endpoint down ...)."""


class S3ListingError(SourceError):
    """A bucket walk failed part-way; ``listed`` objects were yielded before it."""

    def __init__(self, message: str, *, root: S3Root, listed: int) -> None:
        super().__init__(message)
        self.root = root
        self.listed = listed


def _default_endpoint_url() -> str | None:
    from django.conf import settings

    return getattr(settings, "CATALOG_S3_ENDPOINT_URL", "") or None


# A web request must not hang on an unreachable endpoint: short timeouts, few retries.
WEB_CLIENT_CONFIG = {
    "retries": {"mode": "standard", "total_max_attempts": 3},
    "connect_timeout": 3,
    "read_timeout": 15,
}


def make_s3_client(*, endpoint_url: str | None = None, config_overrides: dict | None = None):
    """A boto3 S3 client with retries in mode 'standard'.

    The endpoint is the argument, else ``settings.CATALOG_S3_ENDPOINT_URL`` (from
    ``MLFLOW_S3_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3``), else AWS itself. Credentials
    come from boto3's usual chain.
    """
    endpoint = endpoint_url or _default_endpoint_url()
    options = {"retries": dict(RETRY_CONFIG), "signature_version": "s3v4"}
    options.update(config_overrides or {})
    config = Config(**options)
    return boto3.session.Session().client("s3", endpoint_url=endpoint, config=config)


@functools.lru_cache(maxsize=1)
def get_web_s3_client():
    """Process-wide cached ``make_s3_client()`` for views.

    Tests that change the endpoint clear it with ``get_web_s3_client.cache_clear()``.
    """
    return make_s3_client(config_overrides=WEB_CLIENT_CONFIG)


def read_object_bytes(*, client, bucket: str, key: str, max_bytes: int) -> bytes:
    """At most ``max_bytes`` of the object, by a ranged GET.

    Raises ``ObjectUnavailable`` on any error (missing object, access, endpoint).
    """
    if max_bytes <= 0:
        raise ValueError("max_bytes must be positive")
    try:
        response = client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{max_bytes - 1}")
        with response["Body"] as body:
            return body.read(max_bytes)
    except ClientError as error:
        # An empty object can't satisfy a range; S3 answers 416 InvalidRange.
        if _error_code(error) == "InvalidRange":
            return b""
        raise ObjectUnavailable(_describe(error, bucket=bucket, key=key)) from error
    except (BotoCoreError, OSError) as error:
        raise ObjectUnavailable(_describe(error, bucket=bucket, key=key)) from error


def iter_object_chunks(
    *, client, bucket: str, key: str, chunk_size: int = 64 * 1024
) -> Iterator[bytes]:
    """The object's bytes, streamed in chunks of at most ``chunk_size``.

    Opening happens before the first chunk is yielded: a missing or unreadable object
    raises ``ObjectUnavailable`` as soon as iteration starts. An error in mid-stream
    also raises ``ObjectUnavailable``.
    """
    try:
        response = client.get_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError, OSError) as error:
        raise ObjectUnavailable(_describe(error, bucket=bucket, key=key)) from error
    return _stream_body(response["Body"], bucket=bucket, key=key, chunk_size=chunk_size)


def _stream_body(body, *, bucket: str, key: str, chunk_size: int) -> Iterator[bytes]:
    try:
        for chunk in body.iter_chunks(chunk_size=chunk_size):
            if chunk:
                yield chunk
    except (BotoCoreError, OSError) as error:
        raise ObjectUnavailable(_describe(error, bucket=bucket, key=key)) from error
    finally:
        body.close()


def presigned_download_url(
    *, client, bucket: str, key: str, filename: str, expires_s: int = 300
) -> str:
    """A short-lived GET URL that makes the browser save the object as ``filename``."""
    disposition = _attachment_disposition(filename)
    return client.generate_presigned_url(
        "get_object",
        Params={"Bucket": bucket, "Key": key, "ResponseContentDisposition": disposition},
        ExpiresIn=expires_s,
    )


def _attachment_disposition(filename: str) -> str:
    from urllib.parse import quote

    # An ASCII fallback plus RFC 5987's filename* for the real (maybe unicode) name;
    # quotes, backslashes and control characters never reach the header.
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"attachment; filename=\"{fallback or 'download'}\"; filename*=UTF-8''{quote(filename)}"


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _describe(error: Exception, *, bucket: str, key: str) -> str:
    if isinstance(error, ClientError):
        reason = _error_code(error) or "ClientError"
    else:
        reason = type(error).__name__
    return f"s3://{bucket}/{key}: {reason}"


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

    ``client`` is a boto3 S3 client (``make_s3_client()``); tests hand in one bound to
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
        # read_head runs on the sync's reader threads (catalog.sync.content_reads).
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
            reason = _error_code(error) if isinstance(error, ClientError) else str(error)
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
