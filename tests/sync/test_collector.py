"""The cyclic garbage collector is paused for a sync and restored after it."""

from __future__ import annotations

import gc

import pytest

from benchmarks.config import WorldSize
from benchmarks.memory_sources import MemoryMlflowSource, MemoryS3Source
from benchmarks.world import World
from catalog.models import Artifact
from catalog.sync.collector import collector_paused
from catalog.sync.service import SyncOptions, run_sync


def test_paused_inside_the_block_and_restored_after():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block restores what it found
    assert gc.isenabled()


def test_restored_when_the_block_raises():
    with pytest.raises(ZeroDivisionError), collector_paused():
        1 / 0  # noqa: B018
    assert gc.isenabled()


def test_left_disabled_if_it_was():
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


class _RecordingS3Source(MemoryS3Source):
    """The stand-in's listing, noting whether the collector ran while it was walked."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.collector_seen: set[bool] = set()

    def iter_root(self, *, root):
        for record in super().iter_root(root=root):
            self.collector_seen.add(gc.isenabled())
            yield record


@pytest.mark.django_db(transaction=True)
def test_a_sync_runs_with_the_collector_paused_and_restores_it():
    world = World(WorldSize(experiments=2, runs=20))
    s3_source = _RecordingS3Source(world)
    report = run_sync(
        mlflow_source=MemoryMlflowSource(world),
        s3_source=s3_source,
        options=SyncOptions(list_ahead=0),  # listed inline, on the sync's own thread
    )
    assert report.status == "ok"
    assert Artifact.objects.count() == world.size.artifacts
    assert s3_source.collector_seen == {False}
    assert gc.isenabled()
