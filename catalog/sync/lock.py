"""One sync at a time: a lock that dies with its process.

SQLite: ``fcntl.flock`` on ``settings.CATALOG_SYNC_LOCK_PATH`` (the kernel drops it when
the process exits, however it exits). PostgreSQL: ``pg_try_advisory_lock`` on a
connection of its own (the server drops it when the connection closes). Neither
leaves a stale lock behind a killed sync.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import connections

# An arbitrary 64-bit key naming "the catalogue sync" among advisory locks.
ADVISORY_LOCK_KEY = 0x5EED_CA7A_1065_0001 & 0x7FFF_FFFF_FFFF_FFFF


class SyncLocked(Exception):
    """Another sync holds the lock."""


@contextlib.contextmanager
def sync_lock(*, alias: str = "default") -> Iterator[None]:
    """Hold the sync lock for the block, or raise ``SyncLocked`` at once."""
    if connections[alias].vendor == "postgresql":
        with _advisory_lock(alias):
            yield
    else:
        with _file_lock(Path(settings.CATALOG_SYNC_LOCK_PATH)):
            yield


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise SyncLocked(f"another sync holds {path}") from error
        try:
            os.ftruncate(descriptor, 0)
            os.write(descriptor, f"{os.getpid()}\n".encode())
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def _advisory_lock(alias: str) -> Iterator[None]:
    # A connection of its own: the sync's own connection commits and may reconnect,
    # and the lock must live exactly as long as this block (or the process).
    connection = connections.create_connection(alias)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
            (acquired,) = cursor.fetchone()
        if not acquired:
            raise SyncLocked("another sync holds the PostgreSQL advisory lock")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
    finally:
        connection.close()
