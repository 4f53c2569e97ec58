"""Change events for the page measurements: ``WorldSize.change_events`` rows over the
filled world, as the sync would have written them over many syncs.

Events are spread over ``EVENT_SYNCS`` syncs, oldest first (ids grow with time, as the
sync writes them), over every kind and entity type; registered model 0 gets a long
alias history (every ``ALIAS_EVERY``-th event moves its ``@production``), so its page's
history panel and the timeline filtered to it read a model with thousands of events.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from benchmarks.world import World, _hex

# The filler's own 20 syncs (ids 1..20, the newest first) and this many older ones.
EXISTING_SYNCS = 20
EVENT_SYNCS = 200
ALIAS_EVERY = 50


def sync_started(sync_id: int, *, now) -> object:
    """The start of sync ``sync_id``: one an hour, id 1 the newest (as ``fill.py``)."""
    return now - timedelta(hours=sync_id - 1)


def extra_sync_rows(*, now) -> Iterator[dict]:
    """The syncs older than the filler's own, which only the change events refer to."""
    for sync_id in range(EXISTING_SYNCS + 1, EVENT_SYNCS + 1):
        started = sync_started(sync_id, now=now)
        yield {
            "id": sync_id,
            "started_at": started,
            "finished_at": started + timedelta(minutes=3),
            "status": "ok" if sync_id % 17 else "partial",
            "counts": {},
            "duration_s": 180.0,
        }


def change_event_rows(world: World, *, now) -> Iterator[dict]:
    """``world.size.change_events`` events, oldest first, with explicit ids from 1."""
    size = world.size
    total = size.change_events
    versions = size.versions_per_model
    alias_version = 1
    for index in range(total):
        # Oldest sync (the highest id) first.
        sync_id = EVENT_SYNCS - index * EVENT_SYNCS // total
        base = {
            "id": index + 1,
            "sync_run_id": sync_id,
            "occurred_at": sync_started(sync_id, now=now),
            "changes": {},
            "summary": "",
        }
        if index == 0:
            yield {
                **base,
                "entity_type": "catalogue",
                "kind": "initial_import",
                "entity_key": "catalogue",
                "entity_name": "catalogue",
                "summary": f"initial import: {size.experiments} experiments, {size.runs} runs",
            }
            continue
        if index % ALIAS_EVERY == 0 and size.registered_models:
            old, alias_version = alias_version, alias_version % versions + 1
            name = world.model_name(0)
            yield {
                **base,
                "entity_type": "registered_model",
                "kind": "alias_moved",
                "object_pk": 1,
                "entity_key": name,
                "entity_name": name,
                "registered_model_id": 1,
                "changes": {"@production": [old, alias_version]},
                "summary": f"@production moved from v{old} to v{alias_version}",
            }
            continue
        yield {**base, **_entity_event(world, index)}


def _entity_event(world: World, index: int) -> dict:
    """One event of a run, version, model, logged model, experiment or orphan folder."""
    size = world.size
    slot = index % 10
    run = world.run((index * 7919) % size.runs)
    run_fields = {
        "entity_type": "run",
        "object_pk": run.index + 1,
        "entity_key": run.run_id,
        "entity_name": f"train-{run.index:06d}",
        "experiment_id": int(run.experiment_id),
    }
    if slot <= 4:
        old = 0.5 + (index % 97) / 1000
        return {
            **run_fields,
            "kind": "updated",
            "changes": {"metrics.accuracy": [old, old + 0.01], "status": ["RUNNING", "FINISHED"]},
        }
    if slot == 5:
        return {
            **run_fields,
            "kind": "artifacts",
            "changes": {"added": 3, "changed": 1, "gone": 0, "bytes_added": 48_000},
            "summary": "3 files added, 1 changed",
        }
    if slot == 6:
        return {**run_fields, "kind": "missing" if index % 20 == 6 else "restored"}
    if slot in (7, 8) and size.registered_models:
        model_index = index % size.registered_models
        name = world.model_name(model_index)
        version = 1 + index % size.versions_per_model
        if slot == 7:
            return {
                "entity_type": "model_version",
                "kind": "updated",
                "object_pk": model_index * size.versions_per_model + version,
                "entity_key": f"{name}/v{version}",
                "entity_name": f"{name} v{version}",
                "registered_model_id": model_index + 1,
                "changes": {"stage": ["None", "Staging"]},
            }
        return {
            "entity_type": "registered_model",
            "kind": "updated",
            "object_pk": model_index + 1,
            "entity_key": name,
            "entity_name": name,
            "registered_model_id": model_index + 1,
            "changes": {"mlflow_description": ["", f"Model {model_index}, retrained."]},
        }
    if index % 3 == 0 and size.logged_models:
        logged = index % size.logged_models
        return {
            "entity_type": "logged_model",
            "kind": "created",
            "object_pk": logged + 1,
            "entity_key": world.logged_model_id(logged),
            "entity_name": f"model-{logged}",
            "experiment_id": int(world.logged_model_experiment(logged)),
        }
    if index % 3 == 1:
        experiment_id = world.experiment_id(index % size.experiments)
        folder = f"{experiment_id}/{_hex(f'orphan-x{index}')}/"
        return {
            "entity_type": "orphan_folder",
            "kind": "orphans",
            "entity_key": f"s3://{world.bucket}/{folder}",
            "entity_name": folder,
            "changes": {"objects": 2, "bytes": 8192},
        }
    experiment_index = index % size.experiments
    return {
        "entity_type": "experiment",
        "kind": "updated",
        "object_pk": experiment_index + 1,
        "entity_key": world.experiment_id(experiment_index),
        "entity_name": f"experiment {experiment_index}",
        "experiment_id": experiment_index + 1,
        "changes": {"lifecycle_stage": ["active", "active"], "tags": [{}, {"team": "a"}]},
    }
