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

# What the producer hands over, as (kind, value) pairs.
_ITEM, _END, _ERROR = "item", "end", "error"


def prefetched(iterable: Iterable[T], *, depth: int, name: str) -> Iterator[T]:
    """The items of ``iterable``, fetched on a daemon thread named ``name``.

    Items come in order, each once, with at most ``depth`` fetched and not yet taken.
    An exception raised by ``iterable`` is raised here, the same object, after the
    items that came before it. Closing the returned generator (a ``break``, an
    exception in the caller's loop, garbage collection) stops the thread once the item
    it is fetching, if any, arrives. ``depth <= 0``: plain iteration, no thread.
    """
    if depth <= 0:
        yield from iterable
        return
    # The semaphore, not the queue, bounds the buffer: the producer takes a permit
    # before it asks for an item, so it never fetches more than ``depth`` ahead (a
    # queue's maxsize would let it hold one more in hand) and never blocks on a put.
    channel: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
    room = threading.Semaphore(depth)
    stop = threading.Event()
    producer = threading.Thread(
        target=_produce, args=(iterable, channel, room, stop), name=name, daemon=True
    )
    producer.start()
    try:
        while True:
            kind, value = channel.get()
            room.release()
            if kind == _ITEM:
                yield value
            elif kind == _ERROR:
                raise value
            else:
                return
    finally:
        stop.set()
        # A producer waiting for room wakes, sees ``stop`` and ends: no thread is left
        # blocked, and no further page is requested after the caller has gone.
        room.release()


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
