"""Listing ranges: a sync reads the rows of only the ranges whose listing changed (ADR 0015)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Artifact, ListingRange, SyncRun
from catalog.sync.artifacts import ranges as listing_ranges
from catalog.sync.artifacts.ranges import (
    KeyRange,
    RangeBuilder,
    WalkRanges,
    range_digest,
    save_ranges,
)
from catalog.sync.artifacts.rows import listing_entry
from catalog.sync.records import ArtifactRecord, ExperimentRecord, RunRecord
from catalog.sync.s3_source import S3ListingError
from catalog.sync.service import SyncOptions, run_sync
from tests.sync.test_reconcile import MemoryMlflow

MODIFIED = datetime(2026, 1, 1, tzinfo=UTC)
NAMES = [f"f{index:03d}.bin" for index in range(40)]
PREFIX = "1/run0000/artifacts/"


class ListedS3:
    """The run's files (name -> ETag), in S3's order unless told otherwise."""

    def __init__(
        self,
        files: dict[str, str],
        *,
        order=sorted,
        fail_after: int | None = None,
        prefix: str = PREFIX,
    ):
        self.keys = order(prefix + name for name in files)
        self.etags = {prefix + name: etag for name, etag in files.items()}
        self.fail_after = fail_after

    def iter_root(self, *, root):
        for index, key in enumerate(self.keys):
            if index == self.fail_after:
                raise S3ListingError("page 2 timed out", root=root, listed=index)
            yield ArtifactRecord(
                bucket="b", key=key, size=1, etag=self.etags[key], last_modified=MODIFIED
            )

    def read_head(self, *, bucket, key, max_bytes):
        raise AssertionError("no content to read here")


def _sync(files, *, dry_run=False, mlflow=None, **listing):
    options = SyncOptions(writer_process_min_rows=0, dry_run=dry_run)
    with CaptureQueriesContext(connection) as queries:
        report = run_sync(
            mlflow_source=mlflow or MemoryMlflow(1),
            s3_source=ListedS3(files, **listing),
            options=options,
        ).as_dict()
    # The merge's reads of catalogued rows: the only SELECTs of their fingerprints.
    row_reads = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].startswith("SELECT") and '"catalog_artifact"."fingerprint"' in query["sql"]
    ]
    return report, row_reads


def _files(etag="e", **changed):
    return {name: changed.get(name.replace(".", "_"), etag) for name in NAMES}


def _etags():
    return dict(Artifact.objects.filter(missing_since=None).values_list("path", "etag"))


@pytest.fixture(autouse=True)
def small_ranges(monkeypatch):
    monkeypatch.setattr(listing_ranges, "RANGE_ROWS", 8)


# --- the pieces --------------------------------------------------------------------------


def _entry(key, path="", group="", etag="e"):
    return listing_entry(key, path, group, etag, 1, None, 3, "2026-01-01T00:00:00+00:00")


def test_an_entry_is_self_delimiting():
    # Without the lengths each pair would join to the same text.
    assert _entry("a|b") + _entry("d") != _entry("a") + _entry("b|d")
    assert _entry("k", path="a", group="b") != _entry("k", path="ab", group="")
    assert _entry("k", etag="e1|2") != _entry("k", etag="e1")
    assert range_digest(["ab", "c"]) == range_digest(["a", "bc"])  # the entries' own job


def test_a_range_is_hashed_whole_in_small_pieces():
    entries = [_entry(f"p/{index:04d}") for index in range(500)]
    whole = hashlib.blake2b("".join(entries).encode(), digest_size=16).hexdigest()
    assert range_digest(entries) == whole


def test_a_builder_cuts_a_listing_into_ranges():
    keys = [f"p/{index:02d}" for index in range(20)]
    entries = [_entry(key) for key in keys]
    builder = RangeBuilder("p/")
    for key, entry in zip(keys, entries, strict=True):
        builder.add(key, entry)
    ranges = builder.finish()
    assert [key_range.digest for key_range in ranges] == [
        range_digest(entries[:8]),
        range_digest(entries[8:16]),
        range_digest(entries[16:]),
    ]
    assert [key_range.start for key_range in ranges] == ["p/", "p/08", "p/16"]
    assert [key_range.rows for key_range in ranges] == [8, 8, 4]
    assert RangeBuilder("p/").finish() == [KeyRange(start="p/", rows=0, digest=range_digest([]))]


# --- in a sync --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_no_change_sync_reads_no_artifact_row():
    report, reads = _sync(_files())
    assert report["counts"]["artifacts"]["created"] == 40 and len(reads) == 1
    assert ListingRange.objects.count() == 5
    report, reads = _sync(_files())
    assert report["status"] == "ok"
    assert report["counts"]["artifacts"]["unchanged"] == 40
    assert reads == []


class TeamMlflow(MemoryMlflow):
    """One run whose experiment lies under ``s3://b/team/``: a walk of prefix "team/"."""

    def iter_experiments(self):
        yield ExperimentRecord(experiment_id="1", name="e", artifact_location="s3://b/team/1")

    def iter_runs(self, *, experiment_ids):
        yield RunRecord(
            run_id="run0000",
            experiment_id="1",
            artifact_uri="s3://b/team/1/run0000/artifacts",
            metrics=(),
        )


@pytest.mark.django_db
def test_a_walk_below_the_bucket_root_trusts_its_ranges():
    # The counts and range reads are bounded by the walk's prefix, not the bucket's.
    below = {"mlflow": TeamMlflow(0), "prefix": "team/" + PREFIX}
    _sync(_files(), **below)
    assert set(ListingRange.objects.values_list("walk_prefix", flat=True)) == {"team/"}
    report, reads = _sync(_files(), **below)
    assert report["counts"]["artifacts"]["unchanged"] == 40 and reads == []
    report, reads = _sync(_files(f039_bin="e2"), **below)
    assert report["counts"]["artifacts"]["updated"] == 1 and len(reads) == 1
    assert not Artifact.objects.filter(run__isnull=True).exists()


@pytest.mark.django_db
def test_a_changed_object_reads_and_rewrites_its_range_alone():
    _sync(_files())
    report, reads = _sync(_files(f013_bin="e2"))
    assert report["counts"]["artifacts"]["updated"] == 1
    assert report["counts"]["artifacts"]["unchanged"] == 39
    assert len(reads) == 1  # the one range from f008 to f015
    assert _etags()["f013.bin"] == "e2"
    # The next sync finds the range as rewritten and reads nothing again.
    report, reads = _sync(_files(f013_bin="e2"))
    assert report["counts"]["artifacts"]["unchanged"] == 40 and reads == []


@pytest.mark.django_db
def test_objects_new_and_gone_at_every_edge_of_the_ranges():
    _sync(_files())
    files = {name: "e" for name in NAMES if name not in {"f000.bin", "f020.bin", "f039.bin"}}
    files.update({"a.bin": "e", "f020a.bin": "e", "z.bin": "e"})  # first, middle, last range
    report, reads = _sync(files)
    counts = report["counts"]["artifacts"]
    assert (counts["created"], counts["missing"], counts["unchanged"]) == (3, 3, 37)
    assert len(reads) == 3
    assert set(_etags()) == set(files)
    report, reads = _sync(files)
    assert report["counts"]["artifacts"]["unchanged"] == 40 and reads == []
    # And back: the gone rows are restored, the new ones gone.
    report, _ = _sync(_files())
    counts = report["counts"]["artifacts"]
    assert (counts["restored"], counts["missing"]) == (3, 3)
    assert set(_etags()) == set(NAMES)


@pytest.mark.django_db
def test_rows_removed_behind_the_syncs_back_are_found_again():
    _sync(_files())
    Artifact.objects.filter(path__in=["f003.bin", "f030.bin"]).delete()
    report, reads = _sync(_files())
    assert report["counts"]["artifacts"]["created"] == 2
    assert len(reads) == 1  # the whole walk, merged as without ranges
    assert set(_etags()) == set(NAMES)


@pytest.mark.django_db
def test_after_a_partial_sync_the_ranges_are_not_trusted():
    _sync(_files())
    # A sync cut short after writing a change: its ranges no longer describe the rows.
    report, _ = _sync(_files(f002_bin="e2"), fail_after=30)
    assert report["status"] == "partial" and _etags()["f002.bin"] == "e2"
    # S3 back as the ranges remember it: only a merge sees the row is not.
    report, reads = _sync(_files())
    assert report["counts"]["artifacts"]["updated"] == 1
    assert _etags()["f002.bin"] == "e"
    assert len(reads) == 1
    report, reads = _sync(_files())
    assert reads == []


@pytest.mark.django_db
def test_a_failed_sync_leaves_its_walk_without_ranges():
    _sync(_files())
    _sync(_files(f002_bin="e2"), fail_after=30)
    assert not ListingRange.objects.exists()
    assert SyncRun.objects.order_by("-pk").first().status == "partial"


@pytest.mark.django_db
def test_a_listing_out_of_order_is_right_and_keeps_no_ranges():
    _sync(_files())

    def late_f005(keys):
        keys = sorted(keys)
        keys.remove(PREFIX + "f005.bin")
        return keys + [PREFIX + "f005.bin"]

    report, _ = _sync(_files(f005_bin="e2", f020_bin="e2"), order=late_f005)
    counts = report["counts"]["artifacts"]
    assert (counts["updated"], counts["missing"], counts["unchanged"]) == (2, 0, 38)
    assert _etags()["f005.bin"] == _etags()["f020.bin"] == "e2"
    assert not ListingRange.objects.exists()
    # In order again: merged in full, ranges cut afresh.
    report, reads = _sync(_files(f005_bin="e2", f020_bin="e2"))
    assert report["counts"]["artifacts"]["unchanged"] == 40 and len(reads) == 1
    assert ListingRange.objects.count() == 5


@pytest.mark.django_db
def test_a_dry_run_keeps_no_ranges():
    _sync(_files(), dry_run=True)
    assert not ListingRange.objects.exists()


@pytest.mark.django_db
def test_a_walk_that_wrote_drops_the_ranges_of_walks_over_its_keys():
    def walk(prefix, wrote):
        return WalkRanges(
            bucket="b",
            walk_prefix=prefix,
            ranges=RangeBuilder(prefix).finish(),
            replaced=None,
            wrote=wrote,
        )

    save_ranges([walk("", False), walk("2/", False), walk("3/", False)], dropped=[])
    save_ranges([walk("1/", False)], dropped=[])
    assert ListingRange.objects.count() == 4
    save_ranges([walk("1/", True)], dropped=[("b", "3/")])
    assert sorted(ListingRange.objects.values_list("walk_prefix", flat=True)) == ["1/", "2/"]
