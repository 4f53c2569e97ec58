"""Reading the small files the sync parses: several reads at a time, parsed in batches.

A first sync reads every ``MLmodel`` and ``feature_names.txt`` it lists.
Two costs, two remedies:

* **the reads** are round trips: read one after another, the walk waits for each. S3
  serves many requests at once, so reads go to a small thread pool while the walk keeps
  listing. boto3 clients are thread-safe (sessions and resources are not), so the
  workers share the source's client. A worker only fetches bytes;
* **the parsing** is CPU: libyaml's parser still builds every node in Python, ~40-90 us
  per ``MLmodel``, and Python threads take turns on one core. Parsed on the reader
  threads, that work also takes the GIL from the walk a thousand times a second. So the
  reconciler hands each flush's files to ``parse`` as one batch: a big batch goes to a
  parse process (started on first use, one per sync), which runs on another core while
  the walk goes on; a small one, or any batch after the process failed, is parsed on
  the calling thread.

Neither side touches the database or the report: the reconciler records each
``ContentRead``'s warning, in submission order, so a sync's warnings read the same
whatever the timing.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from catalog import model_files
from catalog.sync.child_process import child_process_pool

logger = logging.getLogger(__name__)

# A batch this big is worth the trip to the parse process (pickling ~1 KB per file is a
# few microseconds; parsing an MLmodel, tens); smaller ones are parsed in place, so
# small syncs (and most tests) never start a process.
PARSE_PROCESS_MIN_BATCH = 200
# Files fetched one after another by one reader task (see ContentReader.request).
READ_CHUNK = 8


@dataclass(frozen=True)
class ContentRead:
    """What one file yielded: its parsed meta as JSON text, and a warning line ("" if none).

    JSON text, encoded where the file was parsed (the parse process): a new row's meta
    goes into the database as this text, and a string crosses between processes far
    cheaper than the nested dict of an ``MLmodel`` signature.
    """

    meta_json: str
    warning: str = ""

    @property
    def meta(self) -> dict[str, Any]:
        return json.loads(self.meta_json)


@dataclass(frozen=True)
class RawContent:
    """One file's bytes as read (capped), or why it could not be read."""

    bucket: str
    key: str
    kind: str
    data: bytes = b""
    error: str = ""


def fetch_content(s3: Any, *, bucket: str, key: str, kind: str) -> RawContent:
    """Read one small file (one byte over the cap, to tell a truncated file)."""
    try:
        data = s3.read_head(bucket=bucket, key=key, max_bytes=model_files.MAX_FILE_BYTES + 1)
    except Exception as error:  # noqa: BLE001 - any read failure is this item's problem
        return RawContent(bucket=bucket, key=key, kind=kind, error=str(error))
    return RawContent(bucket=bucket, key=key, kind=kind, data=data)


def parse_raw(raw: RawContent) -> ContentRead:
    """The ``ContentRead`` of fetched bytes; any failure becomes an ``error`` in its meta.

    Runs in the parse process too, where an exception would fail the whole batch: so
    nothing escapes, not even a ``RecursionError`` or ``MemoryError`` from a hostile
    file, nor a meta that JSON cannot hold.
    """
    location = f"s3://{raw.bucket}/{raw.key}"
    if raw.error:
        error = model_files.error_line(ValueError(f"not read: {raw.error}"))
        return _failed(raw, location=location, error=error)
    try:
        truncated = len(raw.data) > model_files.MAX_FILE_BYTES
        meta = model_files.parse_model_file(
            kind=raw.kind, data=raw.data[: model_files.MAX_FILE_BYTES], truncated=truncated
        )
        # allow_nan=False: PostgreSQL's jsonb refuses NaN, and a refused row would fail
        # the batch's write instead of this one file.
        meta_json = json.dumps(meta, allow_nan=False)
    except Exception as error:  # noqa: BLE001 - one file's failure, of any kind, is its warning
        return _failed(raw, location=location, error=model_files.error_line(error))
    warning = f"{location}: {meta['error']}" if "error" in meta else ""
    return ContentRead(meta_json=meta_json, warning=warning)


def _failed(raw: RawContent, *, location: str, error: str) -> ContentRead:
    return ContentRead(
        meta_json=json.dumps({"kind": raw.kind, "error": error}), warning=f"{location}: {error}"
    )


def parse_batch(raws: list[RawContent]) -> list[ContentRead]:
    """``parse_raw`` of each, in order (what the parse process runs)."""
    return [parse_raw(raw) for raw in raws]


def _fetch_chunk(s3: Any, items: list[tuple[str, str, str]]) -> list[RawContent]:
    return [fetch_content(s3, bucket=bucket, key=key, kind=kind) for bucket, key, kind in items]


def _completed(value: Any) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


def read_content(s3: Any, *, bucket: str, key: str, kind: str) -> ContentRead:
    """Read and parse one small file, on the calling thread."""
    return parse_raw(fetch_content(s3, bucket=bucket, key=key, kind=kind))


class ContentReader:
    """Fetches on ``workers`` threads (inline when ``workers`` <= 1) and parses batches.

    ``process_min_batch`` is the smallest batch sent to the parse process (0: never use
    one). Use as a context manager: leaving it waits for reads in flight (or
    cancels the queued ones when an exception is on its way out) and stops the process.
    """

    def __init__(
        self,
        *,
        s3: Any,
        workers: int,
        process_min_batch: int = PARSE_PROCESS_MIN_BATCH,
    ) -> None:
        self.s3 = s3
        self._pool = ThreadPoolExecutor(workers, "sync-read") if workers > 1 else None
        self._queued: list[tuple[str, str, str]] = []
        self._done: list[Future[list[RawContent]]] = []
        self._parse_process = process_min_batch > 0
        self._process_min_batch = process_min_batch
        self._parser: ProcessPoolExecutor | None = None
        self.batches_in_process = 0

    def request(self, *, bucket: str, key: str, kind: str) -> None:
        """Ask for a file's bytes; ``fetched()`` returns them, in the order asked.

        Requests go to the threads ``READ_CHUNK`` files per task: a task per file
        costs ~20 us of handing over between threads, which at a million artifacts
        is seconds; eight reads in a row on one thread still leave the other threads
        reading theirs.
        """
        if self._pool is None:
            raw = fetch_content(self.s3, bucket=bucket, key=key, kind=kind)
            self._done.append(_completed([raw]))
            return
        self._queued.append((bucket, key, kind))
        if len(self._queued) >= READ_CHUNK:
            self._done.append(self._pool.submit(_fetch_chunk, self.s3, self._queued))
            self._queued = []

    def fetched(self) -> list[RawContent]:
        """The bytes of every file requested since the last call, in request order."""
        if self._queued:
            # The tail of a batch goes out a file per task: all of it in flight at once.
            for item in self._queued:
                self._done.append(self._pool.submit(_fetch_chunk, self.s3, [item]))
            self._queued = []
        raws = [raw for chunk in self._done for raw in chunk.result()]
        self._done = []
        return raws

    def parse(self, raws: list[RawContent]) -> ParsedBatch:
        """Start parsing ``raws``; the batch's ``results()`` waits for them, in order."""
        if self._parse_process and len(raws) >= self._process_min_batch:
            try:
                future = self._process().submit(parse_batch, raws)
            except (BrokenProcessPool, RuntimeError, OSError) as error:
                self._give_up_process(error)
            else:
                self.batches_in_process += 1
                return ParsedBatch(raws, future=future, on_broken=self._give_up_process)
        return ParsedBatch(raws)

    def _process(self) -> ProcessPoolExecutor:
        if self._parser is None:
            # Spawned (a fork of a process holding database connections and reader
            # threads would copy them mid-use; the child imports only the parsers),
            # and dying with the sync (catalog.sync.child_process).
            self._parser = child_process_pool()
        return self._parser

    def _give_up_process(self, error: BaseException) -> None:
        """Parse in place from now on (the parse process died or could not start)."""
        if not self._parse_process:
            return  # a later batch of the same dead process: already given up
        logger.warning("content parse process unavailable (%s); parsing in the sync", error)
        self._parse_process = False
        if self._parser is not None:
            self._parser.shutdown(wait=False, cancel_futures=True)
            self._parser = None

    def __enter__(self) -> ContentReader:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=exc_type is not None)
        if self._parser is not None:
            self._parser.shutdown(wait=True, cancel_futures=True)
            self._parser = None


class ParsedBatch:
    """A batch being parsed (in the parse process, or not yet: then lazily in place)."""

    def __init__(self, raws: list[RawContent], *, future=None, on_broken=None) -> None:
        self._raws = raws
        self._future: Future[list[ContentRead]] | None = future
        self._on_broken = on_broken

    def results(self) -> list[ContentRead]:
        """One ``ContentRead`` per file, in the order given to ``ContentReader.parse``."""
        if self._future is not None:
            try:
                return self._future.result()
            except BrokenProcessPool as error:
                # The process died (killed, out of memory): the bytes are still here.
                if self._on_broken is not None:
                    self._on_broken(error)
        return parse_batch(self._raws)
