"""Writing the artifact stage's batches: in the sync's process, or in a writer process.

A first sync inserts every listed S3 object; at a million that insert alone is most of
the artifact stage (item 2's insert floor: ~60% on SQLite). On one thread it runs
between walk steps, so the two times add up. A thread cannot overlap it: ``sqlite3``
releases the GIL around every row's step and needs it back for the next row's bindings,
so a writer thread beside the walk convoys on the GIL (ADR 0006). A process can: the
``ArtifactWriter`` hands each batch, as database-ready tuples, to one spawned writer
process with its own connection, and the walk goes on while the batch is inserted.

* Each batch is one transaction, in the order given, as when written in place; at most
  ``MAX_BATCHES_IN_FLIGHT`` wait, so a slow database slows the walk instead of letting
  batches pile up in memory.
* The process starts with the first batch of at least ``process_min_rows`` rows, so small
  syncs (and most tests) never start one. It is never used inside a transaction (it
  could not see the caller's uncommitted rows) nor for an in-memory SQLite database.
* ``finish()`` waits for every batch and raises the first error; leaving the context
  waits for the batch in flight and cancels the rest, so nothing is written after the
  sync returns (and has released its lock).
* A writer process that dies (killed, out of memory) fails the sync with
  ``WriterProcessDied``: whether its last batch committed is unknown, so it is not
  retried here. The batches it committed stay, as after a killed sync, and the next sync
  compares against them. One that never started (its first task, ``_ready``, failed)
  ran no batch: the batches it held, and all later ones, are written in place.
* A sync killed outright takes the writer process with it (``child_process``): the
  batch being written is rolled back, and no write lands after the sync died.

The module imports no model at import time: the writer process imports it before it
sets Django up.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from catalog.sync import checkpoints
from catalog.sync.artifacts.rows import (
    ARTIFACT_INSERT_COLUMNS,
    ARTIFACT_META_UPDATE_COLUMNS,
    ARTIFACT_TABLE,
    ARTIFACT_UPDATE_COLUMNS,
)
from catalog.sync.bulk import insert_table_rows, update_table_rows
from catalog.sync.child_process import child_process_pool

logger = logging.getLogger(__name__)


# A batch with this many rows is worth a process (a full batch is 5,000); below it the
# batch is written in place and no process starts.
WRITER_PROCESS_MIN_ROWS = 2000
# Batches handed to the writer process and not yet written, at most.
MAX_BATCHES_IN_FLIGHT = 2


class WriterProcessDied(Exception):
    """The writer process stopped before it confirmed every batch."""


@dataclass(frozen=True)
class ArtifactWrites:
    """One batch: new rows (``ArtifactInsertRow`` values as plain tuples), changed rows
    without and with meta (ARTIFACT_UPDATE_COLUMNS / ARTIFACT_META_UPDATE_COLUMNS, then
    the pk)."""

    creates: list[tuple]
    updates: list[tuple]
    meta_updates: list[tuple]

    @property
    def rows(self) -> int:
        return len(self.creates) + len(self.updates) + len(self.meta_updates)


def write_artifacts(writes: ArtifactWrites) -> int:
    """Write one batch in one transaction on this process's connection; returns its rows."""
    with transaction.atomic():
        insert_table_rows(
            table=ARTIFACT_TABLE, columns=ARTIFACT_INSERT_COLUMNS, rows=writes.creates
        )
        update_table_rows(
            table=ARTIFACT_TABLE, columns=ARTIFACT_UPDATE_COLUMNS, rows=writes.updates
        )
        update_table_rows(
            table=ARTIFACT_TABLE, columns=ARTIFACT_META_UPDATE_COLUMNS, rows=writes.meta_updates
        )
    return writes.rows


def _start_writer_process(settings_module: str, database: dict[str, Any]) -> None:
    """The writer process's set-up: Django, connected to the sync's own database."""
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    import django

    django.setup()
    from django.db import connections

    # The sync's database, exactly: under a test runner its NAME is the test database's.
    connections["default"].settings_dict.update(database)


def can_write_in_process() -> bool:
    """Whether a writer process could write to this connection's database now."""
    if not getattr(settings, "SETTINGS_MODULE", None):
        return False  # settings.configure(): nothing a spawned process could load
    if connection.in_atomic_block:
        return False  # the caller's uncommitted rows would be invisible to it
    return not (connection.vendor == "sqlite" and connection.is_in_memory_db())


def _ready() -> bool:
    """The writer process's first task: it answers once its set-up is done."""
    return True


class ArtifactWriter:
    """Writes batches in place, or in a writer process from the first big batch on.

    ``process_min_rows`` <= 0: always in place. Use as a context manager, and call
    ``finish()`` before reading what was written.
    """

    def __init__(self, *, process_min_rows: int = WRITER_PROCESS_MIN_ROWS) -> None:
        self._process_min_rows = process_min_rows
        self._pool: ProcessPoolExecutor | None = None
        # The process's first task; failed means it never started, so no batch ran.
        self._ready: Future[bool] | None = None
        self._process_failed = False
        self._in_flight: deque[tuple[Future[int], ArtifactWrites]] = deque()
        self.batches_in_process = 0
        self.rows_written_in_process = 0

    def write(self, writes: ArtifactWrites) -> None:
        """Write ``writes`` (in place), or hand it to the writer process."""
        if not writes.rows:
            return
        if self._pool is None:
            if not self._wants_process(writes):
                write_artifacts(writes)
                return
            self._pool = self._start_process()
        if connection.in_atomic_block:
            # Waiting on the process while this connection holds a transaction could
            # wait for a lock this transaction holds.
            raise RuntimeError("ArtifactWriter.write() inside a transaction, with a writer process")
        while self._in_flight and len(self._in_flight) >= MAX_BATCHES_IN_FLIGHT:
            self._confirm_oldest()
        if self._pool is None:  # it could not start (_process_broke): in place from now on
            write_artifacts(writes)
            return
        try:
            future = self._pool.submit(write_artifacts, writes)
        except BrokenProcessPool as error:
            self._process_broke(error)
            write_artifacts(writes)
            return
        self._in_flight.append((future, writes))
        self.batches_in_process += 1

    def finish(self) -> None:
        """Wait until every batch handed over is written; raise the first failure."""
        while self._in_flight:
            self._confirm_oldest()

    def _confirm_oldest(self) -> None:
        future, writes = self._in_flight.popleft()
        try:
            self.rows_written_in_process += future.result()
        except BrokenProcessPool as error:
            self._in_flight.appendleft((future, writes))  # held: written again if never run
            self._process_broke(error)
        else:
            checkpoints.reached(checkpoints.WRITER_BATCH_CONFIRMED)

    def _process_broke(self, error: BrokenProcessPool) -> None:
        """Fall back to writing in place if the process never started; else fail."""
        assert self._ready is not None
        # Done by now: a broken pool fails its pending tasks in order, _ready first.
        if self._ready.exception() is None:
            raise WriterProcessDied(
                "the artifact writer process died before it confirmed a batch; the batches"
                " it confirmed are written, the next sync compares against them"
            ) from error
        # It died in its set-up (a script without the __main__ guard that spawn needs,
        # no memory for another process): it ran no batch, so the batches it held are
        # written here, in order, and every later one too.
        logger.warning("artifact writer process did not start (%s); writing in the sync", error)
        self._process_failed = True
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None
        held = [writes for _future, writes in self._in_flight]
        self._in_flight.clear()
        self.batches_in_process -= len(held)
        for writes in held:
            write_artifacts(writes)

    def _wants_process(self, writes: ArtifactWrites) -> bool:
        return (
            not self._process_failed
            and self._process_min_rows > 0
            and writes.rows >= self._process_min_rows
            and can_write_in_process()
        )

    def _start_process(self) -> ProcessPoolExecutor:
        # Spawned, and dying with the sync: a writer left behind by a killed sync would
        # hold its connection (and the SQLite files) and could still be writing.
        pool = child_process_pool(
            initializer=_start_writer_process,
            initargs=(settings.SETTINGS_MODULE, dict(connection.settings_dict)),
        )
        self._ready = pool.submit(_ready)
        return pool

    def __enter__(self) -> ArtifactWriter:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if self._pool is not None and exc_type is None:
            self.finish()
        if self._pool is not None:
            # The batch being written finishes (or fails) before this returns; queued
            # ones are dropped when the sync is failing anyway.
            self._pool.shutdown(wait=True, cancel_futures=exc_type is not None)
            self._pool = None
