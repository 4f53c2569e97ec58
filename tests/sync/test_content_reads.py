"""Content reads in flight at once: they overlap, and each result lands on its own row."""

from __future__ import annotations

import threading
import time

import pytest

from catalog.models import Artifact
from catalog.sync.content_reads import ContentReader, read_content
from catalog.sync.records import ArtifactRecord
from catalog.sync.service import SyncOptions, run_sync
from tests.sync.test_reconcile import MODIFIED, MemoryMlflow

RUNS = 12


class SlowS3:
    """Each run folder holds an MLmodel naming its run; earlier keys answer slower.

    With several readers, the reads finish in the reverse of the order they were asked
    for: a mix-up of results and rows would show as a wrong ``run_id`` in ``meta``.
    """

    def __init__(self, *, broken: frozenset[int] = frozenset()) -> None:
        self.broken = broken
        self.threads: set[int] = set()
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()

    def iter_root(self, *, root):
        for index in range(RUNS):
            yield ArtifactRecord(
                bucket="b", key=f"1/run{index:04d}/artifacts/model/MLmodel", size=40,
                etag=f"e{index}", last_modified=MODIFIED,
            )  # fmt: skip

    def read_head(self, *, bucket, key, max_bytes):
        index = int(key.split("/")[1].removeprefix("run"))
        with self._lock:
            self.threads.add(threading.get_ident())
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            time.sleep(0.002 * (RUNS - index))
            if index in self.broken:
                raise OSError(f"connection reset reading run {index}")
            return f"run_id: run{index:04d}\nflavors:\n  python_function: {{}}\n".encode()
        finally:
            with self._lock:
                self.in_flight -= 1


def test_reads_overlap_when_there_are_workers():
    barrier = threading.Barrier(4, timeout=5)

    class MeetingS3:
        def read_head(self, *, bucket, key, max_bytes):
            barrier.wait()  # passes only when four reads are in flight together
            return b"a\nb\n"

    with ContentReader(s3=MeetingS3(), workers=4) as reader:
        futures = [
            reader.submit(bucket="b", key=f"{n}/feature_names.txt", kind="feature_names")
            for n in range(4)
        ]
        results = [future.result(timeout=10) for future in futures]
    assert [result.meta["features"] for result in results] == [["a", "b"]] * 4


def test_one_worker_reads_inline_on_the_calling_thread():
    s3 = SlowS3()
    with ContentReader(s3=s3, workers=1) as reader:
        read = reader.submit(bucket="b", key="1/run0003/artifacts/model/MLmodel", kind="mlmodel")
        assert read.done()
    assert s3.threads == {threading.get_ident()}
    assert read.result().meta["run_id"] == "run0003"


def test_a_failed_read_is_an_error_in_meta_and_a_warning_not_an_exception():
    result = read_content(
        SlowS3(broken=frozenset({2})), bucket="b", key="1/run0002/artifacts/model/MLmodel",
        kind="mlmodel",
    )  # fmt: skip
    assert result.meta == {"kind": "mlmodel", "error": "not read: connection reset reading run 2"}
    assert result.warning == (
        "s3://b/1/run0002/artifacts/model/MLmodel: not read: connection reset reading run 2"
    )


@pytest.mark.django_db
def test_concurrent_reads_land_on_their_own_rows_and_warn_in_listing_order():
    s3 = SlowS3(broken=frozenset({3, 9}))
    report = run_sync(
        mlflow_source=MemoryMlflow(RUNS),
        s3_source=s3,
        options=SyncOptions(read_workers=6, batch_size=5),
    )
    assert s3.most_in_flight > 1
    metas = dict(Artifact.objects.values_list("key", "meta"))
    for index in range(RUNS):
        meta = metas[f"1/run{index:04d}/artifacts/model/MLmodel"]
        if index in (3, 9):
            assert meta["error"].startswith(f"not read: connection reset reading run {index}")
        else:
            assert meta["run_id"] == f"run{index:04d}"
            assert meta["flavors"] == ["python_function"]
    assert [warning.split(": ", 1)[0] for warning in report.warnings] == [
        "s3://b/1/run0003/artifacts/model/MLmodel",
        "s3://b/1/run0009/artifacts/model/MLmodel",
    ]
    # Nothing is read again while nothing changed.
    assert Artifact.objects.filter(meta_etag="").count() == 0
