"""The demo world, built once per session: a real sqlite MLflow store and moto's S3 server.

``demo_world`` builds it (about 20 s on this machine); ``sync_demo_world`` runs the real
``sync_registry --json`` command against it into the test database and returns the
command's JSON summary. The sync is cheap (well under a second), so each test that
needs catalogue rows syncs inside its own transaction.
"""

from __future__ import annotations

import io
import json
import logging
import os
from dataclasses import dataclass

import pytest
from django.core.management import call_command

from demo.s3 import running_s3_stand_in
from demo.world import WorldReport, build_world


@dataclass(frozen=True)
class DemoWorld:
    tracking_uri: str
    endpoint_url: str
    report: WorldReport


@pytest.fixture(scope="session")
def demo_world(tmp_path_factory):
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request log
    directory = tmp_path_factory.mktemp("demo-world")
    tracking_uri = f"sqlite:///{directory / 'mlflow.db'}"
    with running_s3_stand_in() as s3:
        report = build_world(tracking_uri=tracking_uri, s3_endpoint_url=s3.endpoint_url)
        yield DemoWorld(tracking_uri=tracking_uri, endpoint_url=s3.endpoint_url, report=report)


@pytest.fixture
def sync_demo_world(demo_world, settings, tmp_path, db):
    """Run ``manage.py sync_registry --json`` on the demo world; return its summary."""
    from catalog.sync.s3_source import get_web_s3_client

    settings.MLFLOW_TRACKING_URI = demo_world.tracking_uri
    settings.CATALOG_S3_ENDPOINT_URL = demo_world.endpoint_url
    settings.CATALOG_S3_ROOTS = []
    settings.CATALOG_SYNC_LOCK_PATH = tmp_path / "sync.lock"
    get_web_s3_client.cache_clear()

    def sync() -> dict:
        out = io.StringIO()
        try:
            call_command("sync_registry", "--json", stdout=out)
        except SystemExit as exit_:  # exit 3 = partial: still a summary to check
            assert exit_.code == 3, out.getvalue()
        return json.loads(out.getvalue())

    yield sync
    get_web_s3_client.cache_clear()
