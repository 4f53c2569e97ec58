"""Make a world build repeatable: planned MLflow ids and a frozen MLflow clock.

MLflow draws run ids and logged-model ids from ``uuid.uuid4()`` and stamps rows with
the wall clock. The demo must rebuild the same world every time (and use the seed page's
own run ids), so, during the build only, two names in MLflow's sqlalchemy store modules
are swapped:

* ``uuid`` in the tracking store, for the one call that makes the id of the next run
  or logged model (:func:`planned_id`); any other call falls through to the real uuid4;
* ``get_current_time_millis`` in the tracking and registry stores, with the build's
  own clock (:func:`frozen_mlflow_clock`; demo.world sets it to each run's time).

Nothing else in MLflow is touched, and both swaps are undone on exit.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime


def stable_hex_id(*parts: str) -> str:
    """A 32-hex id derived from ``parts``: the same every build, unlike uuid4."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:32]


def epoch_millis(moment: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime, as MLflow stores times."""
    return int(moment.astimezone(UTC).timestamp() * 1000)


class _PlannedUuid:
    """A stand-in for the ``uuid`` module whose next ``uuid4()`` is a planned value."""

    def __init__(self) -> None:
        self.queue: list[str] = []

    def uuid4(self) -> uuid.UUID:
        if self.queue:
            return uuid.UUID(hex=self.queue.pop(0))
        return uuid.uuid4()

    def __getattr__(self, name: str):
        return getattr(uuid, name)


_planned = _PlannedUuid()


@contextlib.contextmanager
def planned_ids() -> Iterator[None]:
    """Route the tracking store's uuid4 through :func:`planned_id` for the block."""
    from mlflow.store.tracking import sqlalchemy_store

    original = sqlalchemy_store.uuid
    sqlalchemy_store.uuid = _planned
    try:
        yield
    finally:
        sqlalchemy_store.uuid = original
        _planned.queue.clear()


@contextlib.contextmanager
def planned_id(hex_id: str) -> Iterator[None]:
    """The next run or logged model the store creates in this block gets ``hex_id``."""
    if len(hex_id) != 32 or any(c not in "0123456789abcdef" for c in hex_id):
        raise ValueError(f"not a 32-hex MLflow id: {hex_id!r}")
    _planned.queue[:] = [hex_id]
    try:
        yield
    finally:
        if _planned.queue:
            _planned.queue.clear()
            raise RuntimeError(f"MLflow did not take the planned id {hex_id}")


@contextlib.contextmanager
def frozen_mlflow_clock(*, now: Callable[[], int]) -> Iterator[None]:
    """MLflow's stores read ``now()`` (milliseconds) instead of the wall clock."""
    from mlflow.store.model_registry import sqlalchemy_store as registry_store
    from mlflow.store.tracking import sqlalchemy_store as tracking_store

    modules = (tracking_store, registry_store)
    originals = [module.get_current_time_millis for module in modules]
    for module in modules:
        module.get_current_time_millis = now
    try:
        yield
    finally:
        for module, original in zip(modules, originals, strict=True):
            module.get_current_time_millis = original
