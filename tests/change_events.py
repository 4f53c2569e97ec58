"""Change events for the feed and webhook tests, shaped as the sync writes them."""

from __future__ import annotations

from catalog.models import ChangeEvent, SyncRun
from tests.factories import NOW, make_sync_run

Entity = ChangeEvent.Entity
Kind = ChangeEvent.Kind


def make_change_event(*, sync_run: SyncRun | None = None, **overrides) -> ChangeEvent:
    """An ``updated`` event of a run (a metric changed), in ``sync_run`` (a new one if not given).

    A run's event carries its experiment, a version's its registered model, as the
    sync's events do; pass ``experiment=`` / ``registered_model=`` to say so.
    """
    sync_run = sync_run or make_sync_run()
    values = {
        "sync_run": sync_run,
        "occurred_at": sync_run.started_at or NOW,
        "entity_type": Entity.RUN,
        "kind": Kind.UPDATED,
        "entity_key": "0123456789abcdef0123456789abcdef",
        "entity_name": "nightly-run",
        "changes": {"metrics.rmse": [0.41, 0.38]},
        "summary": "Run nightly-run: rmse 0.41 -> 0.38",
    }
    values.update(overrides)
    return ChangeEvent.objects.create(**values)
