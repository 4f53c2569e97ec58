"""Named points inside the sync where a test may act: kill the process, record its children.

A test that must stop a sync at an exact moment (say, once the writer process has
confirmed a batch) registers a callback for that point with ``on_checkpoint``; the sync
calls ``reached(name)`` as it passes it. Nothing is registered in production, so a
checkpoint costs one test of an empty dict. The names:

``writer.batch_confirmed``
    the artifact writer process confirmed a batch (``catalog.sync.artifacts.writer``): it, and
    the parse process of a sync that parses in one, are running.
"""

from __future__ import annotations

from collections.abc import Callable

WRITER_BATCH_CONFIRMED = "writer.batch_confirmed"

_callbacks: dict[str, list[Callable[[], None]]] = {}


def reached(name: str) -> None:
    """Run the callbacks registered for ``name``, in the order registered."""
    if _callbacks:
        for callback in tuple(_callbacks.get(name, ())):
            callback()


def on_checkpoint(name: str, callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` each time the sync reaches ``name``; returns its remover."""
    _callbacks.setdefault(name, []).append(callback)

    def remove() -> None:
        callbacks = _callbacks.get(name, [])
        if callback in callbacks:
            callbacks.remove(callback)
        if not callbacks:
            _callbacks.pop(name, None)

    return remove
