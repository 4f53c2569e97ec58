"""Fixtures shared by every test area. Area-specific fixtures live in tests/<area>/conftest.py."""

import os

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.core.signals import setting_changed

from catalog.pagecache import CACHE_ALIAS
from demo.s3 import DEMO_CREDENTIALS
from tests.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.environment import environment
from tests.moto_server import moto_server_process
from tests.scheduling import pytest_collection_modifyitems  # noqa: F401 - longest first
from tests.timeline import (  # noqa: F401 - hooks: each test's time, per worker
    pytest_addoption,
    pytest_runtest_makereport,
    pytest_runtest_protocol,
    pytest_terminal_summary,
)


def _clear_page_cache(**kwargs):
    caches[CACHE_ALIAS].clear()


@pytest.fixture(autouse=True)
def empty_page_cache():
    """No page rendered by one test is served to another, nor under other settings.

    The page cache is keyed by the data version, and ids (SyncRun, LogEntry) restart
    when a test's transaction rolls back: a leftover page could match a new world. A
    server changes settings only by restarting, which empties its per-process cache;
    a test that changes a setting mid-test gets the same by this signal.
    """
    _clear_page_cache()
    setting_changed.connect(_clear_page_cache)
    yield
    setting_changed.disconnect(_clear_page_cache)
    _clear_page_cache()


@pytest.fixture(scope="session")
def worlds_s3_endpoint():
    """The moto server of this worker's session worlds, and MLflow pointed at it.

    The demo world (tests/demo/conftest.py), the sync tests' worlds
    (tests/sync/conftest.py) and the poison worlds (tests/poison/conftest.py) live the
    whole session, and MLflow finds S3 through one process-wide variable,
    ``MLFLOW_S3_ENDPOINT_URL``. With a server each, whichever world came second would
    repoint that variable under the others' tests, and MLflow would upload into a server
    without their buckets. One server for all (each world in buckets of its own) keeps
    the variable the same whatever order xdist runs them in. A process of its own:
    tests/moto_server.py says why.
    """
    with (
        moto_server_process() as endpoint,
        environment({**DEMO_CREDENTIALS, "MLFLOW_S3_ENDPOINT_URL": endpoint}),
    ):
        yield endpoint


@pytest.fixture
def user(db):
    """A logged-in-able ordinary (non-staff) user."""
    return get_user_model().objects.create_user("reader", password="reader-pass-123")


@pytest.fixture
def staff_user(db):
    """A staff user with every permission on the catalogue (a team lead)."""
    return get_user_model().objects.create_superuser("lead", password="lead-pass-123")


@pytest.fixture
def reader_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium, one per test process (``tests/chromium.py`` says why)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
