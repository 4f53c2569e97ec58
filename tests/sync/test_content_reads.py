"""Content reads in flight at once, parsed in batches (in a parse process when big):
reads overlap, each result lands on its own row, and a dead parse process loses nothing."""

from __future__ import annotations

import threading
import time

import pytest

from catalog.models import Artifact
from catalog.sync.artifacts.content import ContentReader, RawContent, parse_batch, read_content
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
        for n in range(4):
            reader.request(bucket="b", key=f"{n}/feature_names.txt", kind="feature_names")
        raws = reader.fetched()
    assert [raw.data for raw in raws] == [b"a\nb\n"] * 4


def test_reads_come_back_in_request_order_whole_chunks_and_tail():
    s3 = SlowS3()
    keys = [f"1/run{index:04d}/artifacts/model/MLmodel" for index in range(RUNS)]
    with ContentReader(s3=s3, workers=3) as reader:
        for key in keys:
            reader.request(bucket="b", key=key, kind="mlmodel")
        first = reader.fetched()
        reader.request(bucket="b", key=keys[5], kind="mlmodel")
        second = reader.fetched()
    assert [raw.key for raw in first] == keys
    assert [raw.key for raw in second] == [keys[5]]
    assert len(s3.threads) > 1


def test_one_worker_reads_inline_on_the_calling_thread():
    s3 = SlowS3()
    with ContentReader(s3=s3, workers=1) as reader:
        reader.request(bucket="b", key="1/run0003/artifacts/model/MLmodel", kind="mlmodel")
        assert s3.threads == {threading.get_ident()}
        raws = reader.fetched()
    assert parse_batch(raws)[0].meta["run_id"] == "run0003"


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


def _raws(count: int) -> list[RawContent]:
    return [
        RawContent(
            bucket="b", key=f"1/run{index:04d}/artifacts/model/MLmodel", kind="mlmodel",
            data=f"run_id: run{index:04d}\nflavors:\n  sklearn: {{}}\n".encode(),
        )
        if index % 5
        else RawContent(bucket="b", key=f"{index}/MLmodel", kind="mlmodel", data=b"flavors: [")
        for index in range(count)
    ]  # fmt: skip


@pytest.mark.slow
def test_big_batches_parse_in_a_process_with_the_same_results():
    raws = _raws(50)
    with ContentReader(s3=None, workers=1, process_min_batch=10) as reader:
        small = reader.parse(raws[:9])
        big = reader.parse(raws)
        assert reader.batches_in_process == 1
        assert big.results() == parse_batch(raws)
        assert small.results() == parse_batch(raws[:9])
    assert [read.meta.get("run_id") for read in parse_batch(raws)][:3] == [
        None,
        "run0001",
        "run0002",
    ]
    assert parse_batch(raws)[0].warning.startswith("s3://b/0/MLmodel: ")


@pytest.mark.slow
def test_a_killed_parse_process_costs_time_not_results(caplog):
    raws = _raws(30)
    with ContentReader(s3=None, workers=1, process_min_batch=1) as reader:
        assert reader.parse(raws).results() == parse_batch(raws)
        for process in list(reader._parser._processes.values()):
            process.kill()
            process.join(timeout=10)
        again = reader.parse(raws)  # to the dead process, or refused by it
        assert again.results() == parse_batch(raws)
        # From then on the sync parses in place.
        assert reader.parse(raws).results() == parse_batch(raws)
        assert reader.batches_in_process <= 2
        assert reader._parser is None
    assert "content parse process unavailable" in caplog.text


@pytest.mark.slow
@pytest.mark.django_db
def test_a_sync_parsing_in_a_process_writes_what_an_inline_sync_writes(monkeypatch):
    readers: list[ContentReader] = []
    real_init = ContentReader.__init__

    def remembered(self, **kwargs):
        real_init(self, **kwargs)
        readers.append(self)

    monkeypatch.setattr(ContentReader, "__init__", remembered)

    def synced(**options):
        report = run_sync(
            mlflow_source=MemoryMlflow(RUNS),
            s3_source=SlowS3(broken=frozenset({3, 9})),
            options=SyncOptions(batch_size=5, **options),
        )
        rows = dict(Artifact.objects.values_list("key", "meta"))
        Artifact.objects.all().delete()
        return report.warnings, rows

    inline = synced(read_workers=1, parse_process_min_batch=0)
    assert synced(read_workers=4, parse_process_min_batch=1) == inline
    assert len(inline[1]) == RUNS and len(inline[0]) == 2
    # The first sync parsed in place, the second in the parse process, batch by batch.
    assert [reader.batches_in_process for reader in readers] == [0, RUNS // 5 + 1]
