"""Fixtures of the browser tests: Debian's chromium through Playwright, a live server
holding the demo world (fixtures/demo_world.json) and moto's S3 with real plot bytes."""

from __future__ import annotations

import io
import os
import uuid

import pytest
from django.core.management import call_command
from matplotlib.figure import Figure
from moto import mock_aws

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The run whose plots the drill-down opens: the AI4I RandomForest baseline.
PLOT_RUN_ID = "c795e657a4d147f1ac84ea0dc2bb68f1"
PASSWORD = "browser-pass-123"


@pytest.fixture(autouse=True)
def private_cache(settings):
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"browser-{uuid.uuid4().hex}",
        },
    }


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _plot_bytes(path: str) -> bytes:
    figure = Figure(figsize=(4, 3))
    axes = figure.add_subplot()
    axes.plot([0, 1, 2, 3], [0.2, 0.5, 0.4, 0.9])
    axes.set_title(path)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="pdf" if path.endswith(".pdf") else "png")
    return buffer.getvalue()


@pytest.fixture
def s3_world(transactional_db, settings, monkeypatch):
    """The demo world in the database; the plots of PLOT_RUN_ID as real bytes in moto S3."""
    from catalog.models import Artifact
    from catalog.sync.s3_source import get_web_s3_client
    from tests.factories import make_sync_run

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    settings.CATALOG_S3_ENDPOINT_URL = ""
    call_command("loaddata", "fixtures/demo_world.json", verbosity=0)
    make_sync_run()
    get_web_s3_client.cache_clear()
    with mock_aws():
        client = get_web_s3_client()
        plots = Artifact.objects.filter(run__run_id=PLOT_RUN_ID, folder="plots")
        buckets = set()
        for artifact in plots:
            if artifact.bucket not in buckets:
                client.create_bucket(Bucket=artifact.bucket)
                buckets.add(artifact.bucket)
            body = _plot_bytes(artifact.path)
            client.put_object(Bucket=artifact.bucket, Key=artifact.key, Body=body)
            head = client.head_object(Bucket=artifact.bucket, Key=artifact.key)
            artifact.size = len(body)
            artifact.etag = head["ETag"].strip('"')
            artifact.save(update_fields=["size", "etag"])
        yield client
    get_web_s3_client.cache_clear()


@pytest.fixture
def logged_in_page(browser, live_server, s3_world):
    """A chromium page logged in as a reader, with clipboard access and downloads."""
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("browser", password=PASSWORD)
    context = browser.new_context(
        base_url=live_server.url,
        accept_downloads=True,
        viewport={"width": 1400, "height": 900},
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "browser")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    yield page
    context.close()
