"""Which run a listed key belongs to: the walk remembers the last owner's prefix, and
must give the same answer as a fresh search for every key, in any order."""

from __future__ import annotations

import pytest

from catalog.models import Artifact
from catalog.sync.records import ArtifactRecord
from tests.sync.test_reconcile import MODIFIED, MemoryMlflow, sync

RUN0 = "1/run0000/artifacts/"
RUN1 = "1/run0001/artifacts/"
# (key, owner's run id or None for an orphan, path), in listing (key) order.
EXPECTED = [
    ("1/run0000/artifacts", None, "1/run0000/artifacts"),
    (RUN0, None, RUN0),  # a folder marker: the owner's prefix itself, no path
    (RUN0 + "a.txt", "run0000", "a.txt"),
    (RUN0 + "artifacts/b.txt", "run0000", "artifacts/b.txt"),  # a path that overlaps
    (RUN0 + "sub/artifacts/c.txt", "run0000", "sub/artifacts/c.txt"),
    (RUN0 + "z", "run0000", "z"),
    ("1/run0000/other/d.txt", None, "1/run0000/other/d.txt"),  # beside, not under, it
    (RUN1 + "e.txt", "run0001", "e.txt"),
    ("1/unknown/artifacts/f.txt", None, "1/unknown/artifacts/f.txt"),
    ("1/unknown/artifacts/run/" + RUN0 + "g.txt", None, None),
]


class ListedS3:
    """Lists the given keys in the given order."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys

    def iter_root(self, *, root):
        for key in self.keys:
            yield ArtifactRecord(
                bucket="b", key=key, size=1, etag="e", last_modified=MODIFIED
            )  # fmt: skip

    def read_head(self, *, bucket, key, max_bytes):
        raise AssertionError("no content to read here")


@pytest.mark.django_db
@pytest.mark.parametrize("order", ["listing", "reversed"])
def test_every_key_gets_the_owner_a_fresh_search_gives(order):
    keys = [key for key, _, _ in EXPECTED]
    report = sync(MemoryMlflow(2), ListedS3(keys if order == "listing" else keys[::-1]))
    assert report.status == "ok", report.all_warnings()
    rows = {row.key: row for row in Artifact.objects.select_related("run")}
    for key, run_id, path in EXPECTED:
        row = rows[key]
        assert (row.run.run_id if row.run else None) == run_id, key
        assert row.path == (path or key), key
