"""Change events end to end: a real MLflow store and moto, changed the way teams do.

The module works on its own copy of the seed's world (``copy_world``: a tracking store
and a bucket of its own) and changes it freely: each test restores it before it ends.
Every test starts from the first sync of an empty catalogue, then changes the sources
and syncs again: each change must appear once, as the right event, with the right old
and new values, and nothing else may appear.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import Artifact, ChangeEvent, Experiment, RegisteredModel, Run, SyncRun
from catalog.s3 import make_s3_client
from catalog.sync.changes import catalogue
from catalog.sync.records import ArtifactRecord, S3Root
from catalog.sync.s3_source import S3ListingError, S3Source
from tests.factories import make_change_event
from tests.sync.conftest import SEED_OBJECTS_PER_RUN, World, copy_world

pytestmark = pytest.mark.slow

EVENTS_BUCKET = "change-events-world"
ALIASED_MODEL = "anomaly_detector_refined_v2"  # v1 @previous, v2 @champion (r2a)
DESCRIBED_MODEL = "lightgbm_forecaster_challenger"  # description "r3b"
ORPHAN_KEY = "3/stray-export/notes/readme.txt"


@pytest.fixture(scope="module")
def world(seed_world, world_dir) -> World:
    return copy_world(seed_world, base=world_dir / "events", bucket=EVENTS_BUCKET)


@pytest.fixture
def changed_world(world):
    """The world, put back as it was once the test is done."""
    snapshot = world.snapshot()
    yield world
    world.restore(snapshot)


def _client(world: World):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=world.tracking_uri, registry_uri=world.tracking_uri)


def _events(report) -> list[ChangeEvent]:
    return list(ChangeEvent.objects.filter(sync_run_id=report.sync_run_id).order_by("pk"))


def _by_key(events: list[ChangeEvent]) -> dict[tuple[str, str, str], ChangeEvent]:
    found = {(e.entity_type, e.kind, e.entity_key): e for e in events}
    assert len(found) == len(events), [str(e) for e in events]
    return found


def _first_sync(sync_world, world: World):
    report = sync_world(world)
    assert report.status == "ok", report.all_warnings()
    return report


def test_the_first_sync_records_one_initial_import(world, sync_world):
    report = _first_sync(sync_world, world)
    (event,) = ChangeEvent.objects.all()
    assert event.kind == "initial_import" and event.entity_type == "catalogue"
    assert event.sync_run_id == report.sync_run_id == SyncRun.objects.get().pk
    assert event.changes["experiments"] == 8  # the seed's 7 and MLflow's "Default"
    assert event.changes["runs"] == 15
    assert event.changes["registered_models"] == 17
    assert event.changes["model_versions"] == 18
    assert event.changes["artifacts"] == world.object_count
    assert event.changes["artifact_bytes"] == sum(Artifact.objects.values_list("size", flat=True))
    assert event.summary.startswith(
        "initial import: 8 experiments, 15 runs, 17 registered models, 18 model versions"
    )
    assert report.change_events == 1


def test_a_no_change_sync_reads_and_writes_no_event(world, sync_world):
    _first_sync(sync_world, world)
    with CaptureQueriesContext(connection) as queries:
        report = sync_world(world)
    assert report.status == "ok" and report.change_events == 0
    assert ChangeEvent.objects.count() == 1
    touching = [q["sql"] for q in queries if "catalog_changeevent" in q["sql"]]
    # The retention purge's one indexed look for old events, and nothing else.
    assert len(touching) == 1 and touching[0].lstrip().upper().startswith("SELECT")


def test_each_change_is_one_event_with_its_old_and_new_values(changed_world, sync_world):
    world = changed_world
    _first_sync(sync_world, world)
    client = _client(world)
    client.set_registered_model_alias(ALIASED_MODEL, "champion", "1")  # was v2
    client.delete_run(world.run_ids["r4c"])
    client.update_registered_model(DESCRIBED_MODEL, description="Retrained weekly")
    client.log_metric(world.run_ids["r3a"], "f1", 0.85)  # latest was 0.8
    gone_key = f"5/{world.run_ids['r5a']}/artifacts/sensor_config.txt"
    gone_size = Artifact.objects.get(key=gone_key).size
    world.s3().delete_object(Bucket=world.bucket, Key=gone_key)
    world.s3().put_object(Bucket=world.bucket, Key=ORPHAN_KEY, Body=b"left behind\n")

    report = sync_world(world)
    assert report.status == "ok", report.all_warnings()
    events = _by_key(_events(report))
    r4c, r3a, r5a = (
        Run.objects.get(run_id=world.run_ids[label]) for label in ("r4c", "r3a", "r5a")
    )
    aliased = RegisteredModel.objects.get(name=ALIASED_MODEL)
    described = RegisteredModel.objects.get(name=DESCRIBED_MODEL)
    orphans = f"s3://{EVENTS_BUCKET}/3/stray-export/"
    assert set(events) == {
        ("registered_model", "alias_moved", ALIASED_MODEL),
        ("run", "updated", r4c.run_id),
        ("registered_model", "updated", DESCRIBED_MODEL),
        ("run", "updated", r3a.run_id),
        ("run", "artifacts", r5a.run_id),
        ("orphan_folder", "orphans", orphans),
    }
    assert report.change_events == 6

    moved = events[("registered_model", "alias_moved", ALIASED_MODEL)]
    assert moved.changes == {"@champion": [2, 1]}
    assert moved.summary == "@champion moved from v2 to v1"
    assert (moved.object_pk, moved.registered_model_id) == (aliased.pk, aliased.pk)

    deleted = events[("run", "updated", r4c.run_id)]
    assert deleted.changes == {"lifecycle_stage": ["active", "deleted"]}
    assert (deleted.object_pk, deleted.experiment_id) == (r4c.pk, r4c.experiment_id)
    assert deleted.entity_name == r4c.name

    described_event = events[("registered_model", "updated", DESCRIBED_MODEL)]
    assert described_event.changes == {"mlflow_description": ["r3b", "Retrained weekly"]}
    assert described_event.registered_model_id == described.pk

    metric = events[("run", "updated", r3a.run_id)]
    assert metric.changes == {"metrics.f1": [0.8, 0.85]}
    assert metric.summary == "metrics.f1 0.8 -> 0.85"

    files = events[("run", "artifacts", r5a.run_id)]
    assert files.changes == {
        "added": 0, "changed": 0, "gone": 1, "bytes_added": 0, "bytes_removed": gone_size,
    }  # fmt: skip
    assert files.summary == f"1 file gone ({gone_size} B)"
    assert (files.object_pk, files.experiment_id) == (r5a.pk, r5a.experiment_id)

    orphan = events[("orphan_folder", "orphans", orphans)]
    assert orphan.changes == {"objects": 1, "bytes": len(b"left behind\n")}
    assert orphan.object_pk is None
    assert orphan.experiment_id == Experiment.objects.get(experiment_id="3").pk
    # One clock per sync: the moment its stages compare against, within its run.
    sync_run = SyncRun.objects.get(pk=report.sync_run_id)
    (occurred,) = {event.occurred_at for event in events.values()}
    assert sync_run.started_at <= occurred <= sync_run.finished_at

    # The next sync sees nothing new: no event repeats.
    again = sync_world(world)
    assert again.status == "ok" and again.change_events == 0


def test_vanished_and_returned_artifacts_of_a_version(changed_world, sync_world):
    world = changed_world
    _first_sync(sync_world, world)
    prefix = f"2/{world.run_ids['r2a']}/artifacts/model/"
    model_files = {a.key: a.size for a in Artifact.objects.filter(key__startswith=prefix)}
    assert model_files
    snapshot = world.snapshot()
    for key in model_files:
        world.s3().delete_object(Bucket=world.bucket, Key=key)

    report = sync_world(world)
    events = _by_key(_events(report))
    r2a = Run.objects.get(run_id=world.run_ids["r2a"])
    aliased = RegisteredModel.objects.get(name=ALIASED_MODEL)
    assert set(events) == {
        ("model_version", "updated", f"{ALIASED_MODEL}/v1"),
        ("model_version", "updated", f"{ALIASED_MODEL}/v2"),
        ("run", "artifacts", r2a.run_id),
    }
    version = events[("model_version", "updated", f"{ALIASED_MODEL}/v2")]
    assert version.changes == {"artifacts_present": [True, False]}
    assert version.registered_model_id == aliased.pk
    assert version.entity_name == f"{ALIASED_MODEL} v2"
    gone = events[("run", "artifacts", r2a.run_id)].changes
    assert (gone["gone"], gone["bytes_removed"]) == (len(model_files), sum(model_files.values()))

    world.restore(snapshot)
    report = sync_world(world)
    events = _by_key(_events(report))
    assert events[("model_version", "updated", f"{ALIASED_MODEL}/v1")].changes == {
        "artifacts_present": [False, True]
    }
    back = events[("run", "artifacts", r2a.run_id)]
    assert (back.changes["added"], back.changes["gone"]) == (len(model_files), 0)
    assert back.changes["bytes_added"] == sum(model_files.values())
    assert len(events) == 3


def test_a_run_gone_from_mlflow_is_missing_then_restored(changed_world, sync_world):
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    world = changed_world
    _first_sync(sync_world, world)
    run_id = world.run_ids["r7a"]
    snapshot = world.snapshot()
    store = SqlAlchemyStore(world.tracking_uri, "s3://unused")
    store.delete_run(run_id)
    store._hard_delete_run(run_id)

    report = sync_world(world)
    assert report.status == "ok", report.all_warnings()
    events = _by_key(_events(report))
    run = Run.objects.get(run_id=run_id)
    missing = events.pop(("run", "missing", run_id))
    assert (missing.object_pk, missing.experiment_id) == (run.pk, run.experiment_id)
    # Its files are orphans now: a new orphan folder; its versions lost their artifacts.
    orphan = events.pop(("orphan_folder", "orphans", f"s3://{EVENTS_BUCKET}/7/{run_id}/"))
    assert orphan.changes["objects"] == SEED_OBJECTS_PER_RUN
    assert {key for _, kind, key in events if kind == "updated"} == {
        "xjtu_anomaly_isolation_forest/v1",
        "xjtu_feature_scaler/v1",
    }
    assert len(events) == 2

    world.restore(snapshot)
    report = sync_world(world)
    events = _by_key(_events(report))
    assert ("run", "restored", run_id) in events
    assert events[("model_version", "updated", "xjtu_feature_scaler/v1")].changes == {
        "artifacts_present": [False, True]
    }


def test_a_dry_run_records_none(changed_world, sync_world):
    world = changed_world
    _first_sync(sync_world, world)
    _client(world).log_metric(world.run_ids["r1a"], "f1", 0.5)
    report = sync_world(world, dry_run=True)
    assert report.dry_run and report.change_events == 1  # what a real sync would record
    assert ChangeEvent.objects.count() == 1  # the initial import
    report = sync_world(world)
    (event,) = _events(report)
    assert event.changes == {"metrics.f1": [0.8, 0.5]}


class _ListingBreaksAt(S3Source):
    """An S3 source whose listing fails on the first key under ``prefix``."""

    def __init__(self, *, prefix: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.prefix = prefix

    def iter_root(self, *, root: S3Root):
        for listed, record in enumerate(super().iter_root(root=root)):
            if isinstance(record, ArtifactRecord) and record.key.startswith(self.prefix):
                raise S3ListingError("injected: connection reset", root=root, listed=listed)
            yield record


def test_a_partial_sync_records_what_it_wrote_and_nothing_else(changed_world, sync_world):
    world = changed_world
    _first_sync(sync_world, world)
    _client(world).log_metric(world.run_ids["r3a"], "f1", 0.9)
    added_key = f"1/{world.run_ids['r1a']}/artifacts/plots/extra.png"
    world.s3().put_object(Bucket=world.bucket, Key=added_key, Body=b"\x89PNG more")
    late = f"7/{world.run_ids['r7a']}/artifacts/sensor_config.txt"
    world.s3().delete_object(Bucket=world.bucket, Key=late)  # never listed: not seen gone

    source = _ListingBreaksAt(
        prefix="7/", client=make_s3_client(endpoint_url=world.endpoint), page_size=7
    )
    report = sync_world(world, s3_source=source)
    assert report.status == "partial"
    events = _by_key(_events(report))
    r1a, r3a = (Run.objects.get(run_id=world.run_ids[label]) for label in ("r1a", "r3a"))
    assert set(events) == {("run", "updated", r3a.run_id), ("run", "artifacts", r1a.run_id)}
    assert events[("run", "artifacts", r1a.run_id)].changes["added"] == 1
    assert not Artifact.objects.filter(missing_since__isnull=False).exists()


def test_retention_purges_old_events_in_batches(world, sync_world, settings, monkeypatch):
    _first_sync(sync_world, world)
    now = timezone.now()
    old = [make_change_event(occurred_at=now - timedelta(days=400)) for _ in range(3)]
    recent = make_change_event(occurred_at=now - timedelta(days=30))
    monkeypatch.setattr(catalogue, "PURGE_BATCH", 2)
    sync_world(world)
    kept = set(ChangeEvent.objects.values_list("pk", flat=True))
    assert recent.pk in kept and not kept & {event.pk for event in old}

    settings.CATALOG_CHANGES_KEEP_DAYS = 7
    sync_world(world)
    assert recent.pk not in set(ChangeEvent.objects.values_list("pk", flat=True))
    # A dry run purges nothing.
    older = make_change_event(occurred_at=now - timedelta(days=30))
    sync_world(world, dry_run=True)
    assert ChangeEvent.objects.filter(pk=older.pk).exists()
