"""Reading the small files the sync parses, several at a time.

A first sync reads every ``MLmodel`` and ``feature_names.txt`` it lists (contract 2).
Read one after another, each read is a full round trip while the walk waits: on the
benchmark's world those reads cost twice the whole bare walk. S3 serves many requests at
once, so the reads go to a small thread pool while the walk keeps listing, and the
reconciler collects the results when it writes a batch.

boto3 clients are thread-safe (sessions and resources are not), so the workers share
the source's client. A worker never touches the database or the report: it returns a
``ContentRead`` and the reconciler, on its own thread, records any warning in
submission order, so a sync's warnings read the same whatever the timing.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from catalog.sync import content


@dataclass(frozen=True)
class ContentRead:
    """What one file yielded: its parsed ``meta``, and a warning line ("" if none)."""

    meta: dict[str, Any]
    warning: str = ""


def read_content(s3: Any, *, bucket: str, key: str, kind: str) -> ContentRead:
    """Read and parse one small file; any failure becomes an ``error`` in its meta."""
    try:
        data = s3.read_head(bucket=bucket, key=key, max_bytes=content.MAX_CONTENT_BYTES + 1)
    except Exception as error:  # noqa: BLE001 - any read failure is this item's problem
        return ContentRead(
            meta={"kind": kind, "error": f"not read: {error}"},
            warning=f"s3://{bucket}/{key}: not read: {error}",
        )
    truncated = len(data) > content.MAX_CONTENT_BYTES
    meta = content.parse_content(
        kind=kind, data=data[: content.MAX_CONTENT_BYTES], truncated=truncated
    )
    warning = f"s3://{bucket}/{key}: {meta['error']}" if "error" in meta else ""
    return ContentRead(meta=meta, warning=warning)


class ContentReader:
    """Submits ``read_content`` calls to ``workers`` threads (inline when ``workers`` <= 1).

    Use as a context manager: leaving it waits for reads in flight, or cancels the
    queued ones when an exception is on its way out.
    """

    def __init__(self, *, s3: Any, workers: int) -> None:
        self.s3 = s3
        self._pool = ThreadPoolExecutor(workers, "sync-read") if workers > 1 else None

    def submit(self, *, bucket: str, key: str, kind: str) -> Future[ContentRead]:
        """A future of the file's ``ContentRead``."""
        if self._pool is not None:
            return self._pool.submit(read_content, self.s3, bucket=bucket, key=key, kind=kind)
        future: Future[ContentRead] = Future()
        future.set_result(read_content(self.s3, bucket=bucket, key=key, kind=kind))
        return future

    def __enter__(self) -> ContentReader:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=exc_type is not None)
