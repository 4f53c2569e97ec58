"""One walk of a bucket (``BucketWalk``): owners, the compare, and a listing cut short."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from catalog.sync.artifacts.rows import ListedArtifact
from catalog.sync.artifacts.walk import BucketWalk
from catalog.sync.records import ArtifactRecord, S3Root
from catalog.sync.report import SyncReport
from catalog.sync.s3_source import S3ListingError, UndecodableKey
from tests.factories import BUCKET, make_artifact, make_run

pytestmark = pytest.mark.django_db

MODIFIED = datetime(2026, 1, 1, tzinfo=UTC)
ROOT = S3Root(bucket=BUCKET, prefix="1/")


class RecordingQueue:
    """Stands in for ``ArtifactQueue``: what the walk queued, as (key, run, model, path, group)."""

    def __init__(self):
        self.queued = []

    def queue(self, listed, digest, old):
        assert digest == listed.fingerprint()
        self.queued.append(
            (listed.key, listed.run_pk, listed.model_pk, listed.path, listed.group, old is not None)
        )


def _records(keys, *, fail_after=None):
    for index, key in enumerate(keys):
        if index == fail_after:
            raise S3ListingError("page 2 timed out", root=ROOT, listed=index)
        yield ArtifactRecord(bucket=BUCKET, key=key, size=1, etag="e1", last_modified=MODIFIED)


def _walk(keys, *, owners=None, fail_after=None):
    queue = RecordingQueue()
    report = SyncReport(dry_run=False)
    walk = BucketWalk(bucket=BUCKET, owners=owners or {}, queue=queue, report=report)
    result = walk.walk(
        root=ROOT,
        prefix=ROOT.prefix,
        records=_records(keys, fail_after=fail_after),
        trusted_ranges=None,
    )
    return result, queue.queued, report


def test_each_key_gets_the_first_known_owner_prefix_or_an_orphan_group():
    owners = {"1/r1/artifacts/": (7, None), "1/models/m-1/artifacts/": (None, 3)}
    keys = [
        "1/models/m-1/artifacts/MLmodel",
        "1/r1/artifacts/",  # the folder marker itself has no path: an orphan
        "1/r1/artifacts/model/artifacts/x.txt",  # the first "artifacts/" owns it
        "1/r1/artifacts/plots/a.png",
        "1/r2/artifacts/b.bin",  # a run MLflow doesn't know
    ]
    result, queued, report = _walk(keys, owners=owners)

    assert queued == [
        ("1/models/m-1/artifacts/MLmodel", None, 3, "MLmodel", "", False),
        ("1/r1/artifacts/", None, None, "1/r1/artifacts/", "1/r1/artifacts/", False),
        ("1/r1/artifacts/model/artifacts/x.txt", 7, None, "model/artifacts/x.txt", "", False),
        ("1/r1/artifacts/plots/a.png", 7, None, "plots/a.png", "", False),
        ("1/r2/artifacts/b.bin", None, None, "1/r2/artifacts/b.bin", "1/r2/artifacts/", False),
    ]
    assert report.orphans == 2
    assert result.listed_all and result.in_order and result.error is None
    assert result.missing == []
    assert sum(key_range.rows for key_range in result.ranges) == len(keys)


def _listed(artifact):
    return ArtifactRecord(
        bucket=BUCKET,
        key=artifact.key,
        size=artifact.size,
        etag=artifact.etag,
        last_modified=MODIFIED,
    )


def test_an_unchanged_row_is_not_queued_and_an_unlisted_one_is_missing():
    run = make_run()
    prefix = f"{run.experiment.experiment_id}/{run.run_id}/artifacts/"
    kept = make_artifact(run=run, path="kept.txt", last_modified=MODIFIED)
    changed = make_artifact(run=run, path="changed.txt", last_modified=MODIFIED)
    gone = make_artifact(run=run, path="gone.txt", last_modified=MODIFIED)
    # The kept row's fingerprint as the sync computes it from its listing.
    kept.fingerprint = ListedArtifact(
        _listed(kept), kept.key, run.pk, None, "kept.txt", "", None, MODIFIED.isoformat()
    ).fingerprint()
    kept.save()
    queue = RecordingQueue()
    report = SyncReport(dry_run=False)
    walk = BucketWalk(bucket=BUCKET, owners={prefix: (run.pk, None)}, queue=queue, report=report)
    root = S3Root(bucket=BUCKET, prefix=f"{run.experiment.experiment_id}/")
    new = ArtifactRecord(
        bucket=BUCKET, key=prefix + "new.txt", size=1, etag="e", last_modified=MODIFIED
    )

    result = walk.walk(
        root=root,
        prefix=root.prefix,
        records=iter(sorted([_listed(kept), _listed(changed), new], key=lambda r: r.key)),
        trusted_ranges=None,
    )

    assert queue.queued == [
        (changed.key, run.pk, None, "changed.txt", "", True),
        (new.key, run.pk, None, "new.txt", "", False),
    ]
    assert result.unchanged == 1
    assert result.missing == [gone.pk]
    assert result.present == 3


def test_a_listing_cut_short_keeps_what_it_listed_and_marks_nothing():
    gone = make_artifact(key="1/zz/unlisted.bin")
    keys = ["1/a/x.bin", "1/b/y.bin", "1/c/z.bin"]

    result, queued, report = _walk(keys, fail_after=2)

    assert [entry[0] for entry in queued] == keys[:2]
    assert isinstance(result.error, S3ListingError)
    assert not result.listed_all
    assert result.missing == []  # the unlisted row is not taken for missing
    assert result.ranges == []
    gone.refresh_from_db()
    assert gone.missing_since is None


def test_keys_out_of_order_and_undecodable_keys_are_reported():
    queue = RecordingQueue()
    report = SyncReport(dry_run=False)
    walk = BucketWalk(bucket=BUCKET, owners={}, queue=queue, report=report)
    listing = [
        ArtifactRecord(bucket=BUCKET, key="1/b.bin", size=1, etag="e", last_modified=MODIFIED),
        UndecodableKey(bucket=BUCKET, raw_key=b"1/\xff.bin"),
        ArtifactRecord(bucket=BUCKET, key="1/a.bin", size=1, etag="e", last_modified=MODIFIED),
    ]

    result = walk.walk(root=ROOT, prefix=ROOT.prefix, records=iter(listing), trusted_ranges=None)

    assert [entry[0] for entry in queue.queued] == ["1/b.bin", "1/a.bin"]
    assert result.listed_all and not result.in_order
    assert any("not UTF-8" in warning for warning in report.warnings)
