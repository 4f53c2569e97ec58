"""S3 is listed ahead of the artifact stage, on a thread, while MLflow runs are listed:
both waits at once, bounded, in order, and the thread never outlives the sync."""

from __future__ import annotations

import threading
import time

import pytest

from catalog.models import Artifact
from catalog.sync.records import ArtifactRecord, S3Root, SourceError
from catalog.sync.service import SyncOptions, run_sync
from catalog.sync.stages.artifacts import LISTING_CHUNK
from tests.sync.test_reconcile import MODIFIED, MemoryMlflow

RUNS = 6


class TwoRootsS3:
    """Bucket "b" (the experiment's root) and "c" (an extra root), a file per run in b."""

    def __init__(self, *, per_run: int = 1, fail_root: str = "") -> None:
        self.per_run = per_run
        self.fail_root = fail_root
        self.listed = 0
        self.threads: set[str] = set()

    def iter_root(self, *, root: S3Root):
        self.threads.add(threading.current_thread().name)
        if root.bucket == "c":
            yield ArtifactRecord(
                bucket="c", key="x/extra.bin", size=1, etag="e", last_modified=MODIFIED
            )
            if self.fail_root == "c":
                raise SourceError("listing s3://c/x/ failed after 1 objects: SlowDown")
            return
        for index in range(RUNS):
            for n in range(self.per_run):
                self.listed += 1
                yield ArtifactRecord(
                    bucket="b", key=f"1/run{index:04d}/artifacts/f{n:06d}.txt", size=1,
                    etag="e", last_modified=MODIFIED,
                )  # fmt: skip
            if self.fail_root == "b" and index == 2:
                raise SourceError("listing s3://b/1/ failed after 3 objects: SlowDown")

    def read_head(self, *, bucket, key, max_bytes):
        raise AssertionError("no content to read here")


def _wait_until(condition, *, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def _settled(read, *, timeout: float = 5.0) -> int:
    """``read()`` once it has stopped changing for 50 ms (a producer at its bound)."""
    deadline = time.monotonic() + timeout
    value = read()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if (latest := read()) == value:
            return value
        value = latest
    return value


class WaitingMlflow(MemoryMlflow):
    """Lists its runs only once S3 has listed ``wait_for`` objects (or 5 s have passed),
    and notes how far the listing got, once it stopped, before the runs were done."""

    def __init__(self, s3: TwoRootsS3, *, wait_for: int = LISTING_CHUNK) -> None:
        super().__init__(RUNS)
        self.s3 = s3
        self.wait_for = wait_for
        self.s3_listing_during_runs = False
        self.listed_before_runs_done = 0

    def iter_runs(self, *, experiment_ids):
        self.s3_listing_during_runs = _wait_until(lambda: self.s3.listed >= self.wait_for)
        self.listed_before_runs_done = _settled(lambda: self.s3.listed)
        yield from super().iter_runs(experiment_ids=experiment_ids)


def sync(mlflow, s3, **options):
    return run_sync(
        mlflow_source=mlflow,
        s3_source=s3,
        options=SyncOptions(extra_roots=("s3://c/x/",), **options),
    )


@pytest.mark.django_db
def test_s3_is_listed_while_mlflow_runs_are_and_no_further_than_allowed():
    s3 = TwoRootsS3(per_run=LISTING_CHUNK)  # 6 chunks in bucket b
    mlflow = WaitingMlflow(s3)
    report = sync(mlflow, s3, list_ahead=2)
    assert report.status == "ok", report.all_warnings()
    assert mlflow.s3_listing_during_runs
    # A chunk or more was listed during the runs stage, and, left alone, the listing
    # stopped at its bound: at most list_ahead chunks wait, plus the one being filled.
    assert LISTING_CHUNK <= mlflow.listed_before_runs_done <= 3 * LISTING_CHUNK
    assert s3.threads == {"sync-listing"}
    assert Artifact.objects.filter(bucket="b").count() == RUNS * LISTING_CHUNK
    assert Artifact.objects.filter(bucket="c").count() == 1
    assert not [t for t in threading.enumerate() if t.name == "sync-listing"]


@pytest.mark.django_db
def test_listing_inline_when_asked():
    s3 = TwoRootsS3()
    mlflow = WaitingMlflow(s3, wait_for=0)
    report = sync(mlflow, s3, list_ahead=0)
    assert report.status == "ok"
    assert s3.threads == {threading.current_thread().name}
    assert Artifact.objects.count() == RUNS + 1


@pytest.mark.django_db
@pytest.mark.parametrize("fail_root", ["b", "c"])
def test_a_failed_root_keeps_what_it_listed_and_the_other_root_is_walked(fail_root):
    report = sync(MemoryMlflow(RUNS), TwoRootsS3(fail_root=fail_root))
    assert report.status == "partial"
    assert any("SlowDown" in warning for warning in report.all_warnings())
    expected_b = 3 if fail_root == "b" else RUNS
    assert Artifact.objects.filter(bucket="b").count() == expected_b
    assert Artifact.objects.filter(bucket="c").count() == 1


class BrokenRunsMlflow(MemoryMlflow):
    def iter_runs(self, *, experiment_ids):
        raise RuntimeError("a bug in the runs stage")


@pytest.mark.django_db
def test_a_crashing_sync_stops_its_listing_thread():
    s3 = TwoRootsS3(per_run=LISTING_CHUNK)
    report = sync(BrokenRunsMlflow(RUNS), s3, list_ahead=1)
    assert report.status == "failed"
    assert "a bug in the runs stage" in report.error
    for thread in threading.enumerate():
        if thread.name == "sync-listing":
            thread.join(timeout=5)
            assert not thread.is_alive()
    assert s3.listed <= 3 * LISTING_CHUNK
