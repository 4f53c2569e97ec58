"""Listing pages fetched ahead on a thread: order, errors, early stops, a bounded buffer.

The helper is tested with small generators that record what was asked of them; the
S3 walk that uses it is tested against moto with a bucket of five 1000-object pages.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends

from catalog.s3 import make_s3_client
from catalog.sync.prefetch import prefetched
from catalog.sync.records import ArtifactRecord, S3Root
from catalog.sync.s3_source import S3ListingError, S3Source

REPO = Path(__file__).resolve().parents[2]


def _threads(name: str) -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == name]


def _wait_until(condition, *, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


def _endless(pulled: list[int], closed: threading.Event):
    """Counts for ever, like a bucket that never ends; records each item asked for."""
    try:
        for index in itertools.count():
            pulled.append(index)
            yield index
    finally:
        closed.set()


# --- the helper --------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [-1, 0, 1, 2, 7, 100])
def test_items_come_in_order_each_once(depth):
    items = [f"page-{index}" for index in range(50)]
    assert list(prefetched(iter(items), depth=depth, name="t-order")) == items
    assert list(prefetched(iter([]), depth=depth, name="t-order")) == []


def test_depth_zero_iterates_on_the_callers_thread_and_otherwise_on_a_daemon():
    threads: list[threading.Thread] = []

    def source():
        for index in range(3):
            threads.append(threading.current_thread())
            yield index

    assert list(prefetched(source(), depth=0, name="t-none")) == [0, 1, 2]
    assert threads == [threading.current_thread()] * 3
    threads.clear()
    assert list(prefetched(source(), depth=2, name="t-named")) == [0, 1, 2]
    assert {thread.name for thread in threads} == {"t-named"}
    assert all(thread.daemon for thread in threads)


@pytest.mark.parametrize("depth", [0, 1, 2, 5])
@pytest.mark.parametrize("fail_at", [0, 1, 4])
def test_an_error_comes_after_the_items_before_it_and_is_the_same_object(depth, fail_at):
    error = OSError("page request failed")

    def source():
        for index in range(10):
            if index == fail_at:
                raise error
            yield index

    received = []
    with pytest.raises(OSError) as raised:
        for item in prefetched(source(), depth=depth, name="t-error"):
            received.append(item)
    assert raised.value is error
    assert received == list(range(fail_at))


def test_an_iterable_that_fails_to_start_raises_in_the_caller():
    class Broken:
        def __iter__(self):
            raise ValueError("no paginator")

    with pytest.raises(ValueError, match="no paginator"):
        list(prefetched(Broken(), depth=2, name="t-broken"))


def test_closing_early_stops_the_producer_and_closes_its_source():
    pulled: list[int] = []
    closed = threading.Event()
    stream = prefetched(_endless(pulled, closed), depth=2, name="t-close")
    assert next(stream) == 0
    # The producer fills its allowance and waits for room: closing must wake it.
    _wait_until(lambda: len(pulled) == 1 + 2)
    (thread,) = _threads("t-close")
    stream.close()
    thread.join(timeout=5)
    assert not thread.is_alive()
    # The source's own cleanup ran (a paginator would stop there), and it was never
    # asked for more than the item taken plus ``depth``.
    assert closed.is_set()
    assert pulled == [0, 1, 2]


@pytest.mark.parametrize("how", ["break", "error", "interrupt", "exit"])
def test_leaving_the_callers_loop_stops_the_producer(how):
    pulled: list[int] = []
    closed = threading.Event()
    raising = {"error": ValueError, "interrupt": KeyboardInterrupt, "exit": SystemExit}
    threads: list[threading.Thread] = []

    def consume():
        # No reference to the generator outlives the loop: leaving the loop (by a break
        # or an exception) is what closes it.
        for _item in prefetched(_endless(pulled, closed), depth=3, name=f"t-leave-{how}"):
            threads.extend(_threads(f"t-leave-{how}"))
            _wait_until(lambda: len(pulled) == 1 + 3)
            if how == "break":
                break
            raise raising[how]()

    if how == "break":
        consume()
    else:
        # KeyboardInterrupt and SystemExit pass through untouched, as without a thread.
        with pytest.raises(raising[how]):
            consume()
    (thread,) = threads
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert closed.is_set()
    assert pulled == [0, 1, 2, 3]


def test_a_producer_busy_fetching_ends_after_that_item_and_close_does_not_wait():
    in_flight = threading.Event()
    answer = threading.Event()
    asked: list[int] = []

    def slow():
        yield 0
        asked.append(1)
        in_flight.set()
        answer.wait(timeout=10)  # a page request still on the wire
        yield 1
        asked.append(2)
        yield 2

    stream = prefetched(slow(), depth=1, name="t-busy")
    assert next(stream) == 0
    assert in_flight.wait(timeout=5)
    (thread,) = _threads("t-busy")
    started = time.monotonic()
    stream.close()
    assert time.monotonic() - started < 1
    answer.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert asked == [1]


@pytest.mark.parametrize("depth", [1, 3])
def test_the_producer_never_runs_more_than_depth_items_ahead(depth):
    total = 20
    pulled: list[int] = []

    def source():
        for index in range(total):
            pulled.append(index)
            yield index

    most_ahead = 0
    for taken, _item in enumerate(prefetched(source(), depth=depth, name="t-bound"), start=1):
        # Let the producer run as far ahead as it is allowed, and a little longer.
        _wait_until(lambda taken=taken: len(pulled) >= min(taken + depth, total))
        time.sleep(0.01)
        ahead = len(pulled) - taken
        assert ahead <= depth
        most_ahead = max(most_ahead, ahead)
    assert most_ahead == depth


STUCK_SCRIPT = """
import signal
import threading
from catalog.sync.prefetch import prefetched

# Ctrl-C as a terminal gives it, whatever this test process passed down: a child
# inherits ignored signals and the signal mask of the thread that started it.
signal.signal(signal.SIGINT, signal.default_int_handler)
signal.pthread_sigmask(signal.SIG_UNBLOCK, {{signal.SIGINT}})

def stuck():
    yield 0
    threading.Event().wait()  # a page request that never answers
    yield 1

for item in prefetched(stuck(), depth=2, name="stuck"):
    print("took", item, flush=True)
    if {exit_in_loop}:
        raise SystemExit(7)
"""


@pytest.mark.parametrize("ending", ["exit-in-loop", "ctrl-c-while-waiting"])
def test_the_process_exits_with_a_producer_stuck_in_a_request(ending):
    # The worst case: the producer can't be stopped (it is inside a request). Being a
    # daemon, it must not keep the process alive once the caller gives up.
    script = STUCK_SCRIPT.format(exit_in_loop=ending == "exit-in-loop")
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert process.stdout.readline() == "took 0\n"
        if ending == "ctrl-c-while-waiting":
            # The caller waits for item 1, which never comes; Ctrl-C must still work.
            time.sleep(0.2)
            process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()
    if ending == "exit-in-loop":
        assert process.returncode == 7
    else:
        assert process.returncode == -signal.SIGINT


# --- the S3 walk, against moto -----------------------------------------------------------

BUCKET = "prefetch-walk"
PAGE = 1000
OBJECTS = 5 * PAGE


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **kwargs):
        yield self.data


def _access_denied() -> AWSResponse:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
        b"<Message>injected</Message></Error>"
    )
    return AWSResponse("http://injected", 403, {"Content-Type": "application/xml"}, _Body(body))


def _record_listing_requests(client, *, fail_request: int | None = None) -> list[str]:
    """The thread name of each ListObjectsV2 request; request ``fail_request`` is denied."""
    requests: list[str] = []

    def before_send(request, **kwargs):
        requests.append(threading.current_thread().name)
        if len(requests) == fail_request:
            return _access_denied()
        return None

    # moto's in-process mock answers on the same event and the first answer wins, so
    # this handler goes first.
    client.meta.events.register_first("before-send.s3.ListObjectsV2", before_send)
    return requests


@pytest.fixture(scope="module")
def five_pages():
    """A moto bucket of five 1000-object pages under ``1/``, built once for the module.

    The objects go straight into moto's in-process backend: 5,000 ``put_object``
    requests through boto3 cost about 15 s of CPU (signing, serialising, moto parsing
    each), and the tests are about listing them, which still goes through boto3.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        with mock_aws():
            make_s3_client().create_bucket(Bucket=BUCKET)
            backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
            for index in range(OBJECTS):
                key = f"1/run{index // 100:03d}/artifacts/file {index % 100:02d}#.txt"
                backend.put_object(BUCKET, key, b"x" * (index % 7))
            yield


@pytest.mark.slow
@pytest.mark.parametrize("prefetch_pages", [0, 2])
def test_a_listing_failing_on_page_3_of_5_reports_2000_listed(five_pages, prefetch_pages):
    client = make_s3_client()
    requests = _record_listing_requests(client, fail_request=3)
    source = S3Source(client=client, page_size=PAGE, prefetch_pages=prefetch_pages)
    received = []
    with pytest.raises(S3ListingError, match="AccessDenied") as raised:
        for record in source.iter_root(root=S3Root(bucket=BUCKET, prefix="1/")):
            received.append(record)
    assert raised.value.listed == 2 * PAGE
    assert len(received) == 2 * PAGE
    assert isinstance(raised.value.__cause__, ClientError)
    # No page after the failed one is requested, prefetching or not.
    listing_thread = f"sync-list-{BUCKET}" if prefetch_pages else "MainThread"
    assert requests == [listing_thread] * 3


@pytest.mark.slow
def test_a_walk_with_prefetch_yields_exactly_what_a_plain_walk_yields(five_pages):
    root = S3Root(bucket=BUCKET, prefix="1/")
    client = make_s3_client()
    plain = list(S3Source(client=client, page_size=PAGE, prefetch_pages=0).iter_root(root=root))
    assert len(plain) == OBJECTS
    assert all(isinstance(record, ArtifactRecord) for record in plain)
    for depth in (1, 2):
        source = S3Source(client=client, page_size=PAGE, prefetch_pages=depth)
        assert list(source.iter_root(root=root)) == plain


@pytest.mark.slow
def test_a_walk_stopped_early_stops_listing(five_pages):
    client = make_s3_client()
    requests = _record_listing_requests(client)
    walk = S3Source(client=client, page_size=PAGE, prefetch_pages=2).iter_root(
        root=S3Root(bucket=BUCKET, prefix="1/")
    )
    next(walk)
    # The page in hand and two ahead, then the listing thread waits for room.
    _wait_until(lambda: len(requests) == 3, timeout=10)
    (thread,) = _threads(f"sync-list-{BUCKET}")
    walk.close()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert len(requests) == 3
