"""Fetching the next items of a slow iterator while the caller works on the current one.

The sync walks each S3 root page by page (``S3Source.iter_root``). Each page is a round
trip (20-100 ms on S3) during which the sync waits, and while the sync compares and
writes a page the server is idle. ``prefetched`` runs the paginator on a daemon thread a
few pages ahead, so a walk costs about the larger of the two instead of their sum.

The producer thread only iterates: it never touches the database or the caller's state.
boto3 clients are thread-safe; the paginator is used by the one producer thread only.
MLflow pages are not prefetched: the client's stores are not known to be thread-safe
when used at the same time as the metric-history reads the sync makes between pages.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

# Longest wait for the next item before the consumer's thread checks for signals.
WAKE_S = 0.2
# What the producer hands over, as (kind, value) pairs.
_ITEM, _END, _ERROR = "item", "end", "error"


def prefetched(iterable: Iterable[T], *, depth: int, name: str) -> Iterator[T]:
    """The items of ``iterable``, fetched on a daemon thread named ``name``.

    The thread starts now, not at the first ``next()``: a caller can start a listing,
    do other work while it runs, and take the items later. Items come in order, each
    once, with at most ``depth`` fetched and not yet taken. An exception raised by
    ``iterable`` is raised here, the same object, after the items that came before it.
    ``close()`` (or garbage collection; a generator consumer's ``break`` or exception
    drops it) stops the thread once the item it is fetching, if any, arrives.
    ``depth <= 0``: plain iteration on the caller's thread, no thread.
    """
    if depth <= 0:
        return _plain(iterable)
    return _Prefetcher(iterable, depth=depth, name=name)


def _plain(iterable: Iterable[T]) -> Iterator[T]:
    yield from iterable


class _Prefetcher(Iterator[T]):
    """The consumer's side of ``prefetched``: an iterator that can be closed."""

    def __init__(self, iterable: Iterable[T], *, depth: int, name: str) -> None:
        # The semaphore, not the queue, bounds the buffer: the producer takes a permit
        # before it asks for an item, so it never fetches more than ``depth`` ahead (a
        # queue's maxsize would let it hold one more in hand) and never blocks on a put.
        self._channel: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._room = threading.Semaphore(depth)
        self._stop = threading.Event()
        self._finished = False
        threading.Thread(
            target=_produce,
            args=(iterable, self._channel, self._room, self._stop),
            name=name,
            daemon=True,
        ).start()

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        kind, value = self._take()
        self._room.release()
        if kind == _ITEM:
            return value
        self.close()
        if kind == _ERROR:
            raise value
        raise StopIteration

    def _take(self) -> tuple[str, Any]:
        # Timed waits, one after another: an untimed wait wakes for Ctrl-C only when the
        # signal is delivered to this thread; a timed one returns to Python within
        # WAKE_S, where the interrupt is raised whichever thread received the signal.
        while True:
            try:
                return self._channel.get(timeout=WAKE_S)
            except queue.Empty:
                continue

    def close(self) -> None:
        """Stop the producer: no further item is fetched after the one in hand."""
        if not self._stop.is_set():
            self._finished = True
            self._stop.set()
            # A producer waiting for room wakes, sees ``stop`` and ends: no thread is
            # left blocked, and nothing more is requested after the caller has gone.
            self._room.release()

    def __del__(self) -> None:
        self.close()


def _produce(
    iterable: Iterable[Any],
    channel: queue.SimpleQueue[tuple[str, Any]],
    room: threading.Semaphore,
    stop: threading.Event,
) -> None:
    iterator: Iterator[Any] | None = None
    try:
        iterator = iter(iterable)
        while True:
            room.acquire()
            if stop.is_set():
                return
            try:
                item = next(iterator)
            except StopIteration:
                channel.put((_END, None))
                return
            channel.put((_ITEM, item))
    except BaseException as error:  # noqa: BLE001 - the consumer raises it, as if inline
        channel.put((_ERROR, error))
    finally:
        # A generator source stopped early runs its own cleanup on this thread, the one
        # that iterated it.
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
