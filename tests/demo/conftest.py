"""The demo world, built once per test run: a real sqlite MLflow store and moto's S3 server.

``demo_world`` builds it (20-45 s on this machine) with ``demo.world.build_world``. Under
pytest-xdist each worker needs its own (in its moto server of session worlds): the first
worker to get there builds it and saves it in a world cache private to this test run
(:mod:`demo.world_cache`), the others wait for it and restore it in seconds. So every
run builds the world afresh once, and both ways to a world are exercised. The cache
entry is the run's one build for every test that starts from a built world
(``DemoWorld.cache_entry``: ``make run`` starts from a copy of it).
``sync_demo_world`` runs the real ``sync_registry --json`` command against it into the
test database and returns the command's JSON summary. The sync is cheap (well under a
second), so each test that needs catalogue rows syncs inside its own transaction.
``fresh_s3`` gives tests of the world cache and of ``demo.serve`` an empty moto server.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import logging
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from demo.s3 import make_boto3_client
from demo.world import WorldReport, build_world
from demo.world_cache import prepare_world, world_digest
from tests.moto_server import moto_server_process


@dataclass(frozen=True)
class DemoWorld:
    tracking_uri: str
    endpoint_url: str
    report: WorldReport
    cache_entry: Path  # the world's entry in this test run's world cache


@contextlib.contextmanager
def exclusive(path: Path):
    """Hold an exclusive lock on ``path`` for the block (one xdist worker at a time)."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def demo_world(tmp_path_factory, worker_id, worlds_s3_endpoint):
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request log
    directory = tmp_path_factory.mktemp("demo-world")
    tracking_db = directory / "mlflow.db"
    # The run's base temp dir is shared by its xdist workers (each has a popen-gwN below).
    run_dir = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        run_dir = run_dir.parent
    # The worker's moto server of session worlds, shared with the sync tests' worlds
    # (tests/conftest.py says why); the demo world's buckets are its own there.
    endpoint = worlds_s3_endpoint
    cache_root, digest = run_dir / "demo-world-cache", world_digest()
    with exclusive(run_dir / "demo-world.lock"):
        prepared = prepare_world(
            cache_root=cache_root,
            tracking_db=tracking_db,
            s3_endpoint_url=endpoint,
            build=build_world,
            digest=digest,
        )
    return DemoWorld(
        tracking_uri=f"sqlite:///{tracking_db}",
        endpoint_url=endpoint,
        report=WorldReport(**prepared.report),
        cache_entry=cache_root / digest,
    )


@pytest.fixture
def sync_demo_world(demo_world, settings, tmp_path, db):
    """Run ``manage.py sync_registry --json`` on the demo world; return its summary."""
    from catalog.s3 import get_web_s3_client

    settings.MLFLOW_TRACKING_URI = demo_world.tracking_uri
    settings.CATALOG_S3_ENDPOINT_URL = demo_world.endpoint_url
    settings.CATALOG_S3_ROOTS = []
    settings.CATALOG_SYNC_LOCK_PATH = tmp_path / "sync.lock"
    get_web_s3_client.cache_clear()

    def sync() -> dict:
        out = io.StringIO()
        try:
            call_command("sync_registry", "--json", stdout=out)
        except CommandError as error:  # exit 3 = partial: still a summary to check
            assert error.returncode == 3, out.getvalue()
        return json.loads(out.getvalue())

    yield sync
    get_web_s3_client.cache_clear()


@pytest.fixture(scope="session")
def moto_endpoint():
    """One moto server process for the small worlds of this worker's tests.

    moto keeps one store per process, shared by all its servers (and by this test
    process's session worlds), so the server is a process of its own.
    """
    with moto_server_process() as endpoint:
        yield endpoint


@pytest.fixture
def fresh_s3(moto_endpoint):
    """A function returning the endpoint of a moto server with an empty store.

    moto's reset API empties the shared server as a new process would start empty:
    each call gives an S3 that holds nothing, without a new process's seconds of imports.
    """

    def start() -> str:
        reset = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(reset, timeout=30).close()  # noqa: S310 - our loopback server
        assert make_boto3_client(moto_endpoint).list_buckets()["Buckets"] == []
        return moto_endpoint

    return start
