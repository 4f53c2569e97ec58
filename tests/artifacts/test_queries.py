"""Bounded queries at scale: a run with 10,000 files in one folder."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.template import Context, Template

from catalog.artifact_browser import _subfolder_rows, folder_listing
from catalog.models import Run
from tests.factories import make_artifacts_bulk, make_run

pytestmark = pytest.mark.django_db

FILES_IN_ONE_FOLDER = 10_000
# Session, user, the "last sync" line, then the page's own queries (owner, artifact or
# subfolder GROUP BY, one page of files).
MAX_PAGE_QUERIES = 7


@pytest.fixture(scope="module")
def big_run_pk(django_db_setup, django_db_blocker):
    """The run's 10,043 rows, written once for the module inside a transaction rolled
    back after its last test. Each test runs in a savepoint of it (pytest-django's
    ``db``), so what a test writes is undone after the test, as before."""
    with django_db_blocker.unblock(), transaction.atomic():
        run = make_run()
        paths = [f"plots/many/f{number:05d}.png" for number in range(FILES_IN_ONE_FOLDER)]
        paths += [f"model/part{number}/weights.bin" for number in range(40)]
        paths += ["model/MLmodel", "model/conda.yaml", "feature_names.txt"]
        assert make_artifacts_bulk(run=run, paths=paths, size=100) == len(paths)
        yield run.pk
        transaction.set_rollback(True)


@pytest.fixture
def big_run(big_run_pk):
    """A fresh instance per test (with its experiment, as ``make_run`` returns it), so
    nothing one test caches on it saves another a query."""
    return Run.objects.select_related("experiment").get(pk=big_run_pk)


def test_subfolders_are_grouped_in_the_database(big_run, django_assert_num_queries):
    with django_assert_num_queries(1):
        rows = _subfolder_rows(owner=big_run, folder="")
    # One row per next segment (and one for the top's own files), not one per file.
    assert [(row["direct"], row["segment"], row["file_count"]) for row in rows] == [
        (1, "", 1),
        (0, "model", 42),
        (0, "plots", FILES_IN_ONE_FOLDER),
    ]
    assert rows[2]["bytes"] == FILES_IN_ONE_FOLDER * 100
    with django_assert_num_queries(2):
        listing = folder_listing(owner=big_run, folder="plots/many", page=50)
    assert listing.file_count == FILES_IN_ONE_FOLDER and listing.page_count == 50
    assert listing.files[-1].path == "plots/many/f09999.png"
    assert len(listing.files) == 200


@pytest.mark.parametrize(
    "path",
    [
        "artifacts/",
        "artifacts/plots/",
        "artifacts/plots/many/",
        "artifacts/plots/many/?page=50",
        "artifacts/model/",
        "artifacts/model/part7/weights.bin",
        "artifacts/plots/many/f05000.png",
    ],
)
def test_pages_stay_within_a_query_budget(
    reader_client, big_run, path, django_assert_max_num_queries
):
    with django_assert_max_num_queries(MAX_PAGE_QUERIES):
        response = reader_client.get(f"/runs/{big_run.run_id}/{path}")
    assert response.status_code == 200


def test_big_folder_page_shows_totals_and_one_page(reader_client, big_run):
    html = reader_client.get(f"/runs/{big_run.run_id}/artifacts/plots/many/").content.decode()
    assert "page 1 of 50 (10,000 files)" in html
    assert html.count('class="file"') == 200
    # The gallery on a folder page is capped too.
    assert html.count("/thumbnail/plots/many/") == 24
    root = reader_client.get(f"/runs/{big_run.run_id}/artifacts/").content.decode()
    assert "10,043 files in this folder and below" in root


def test_artifacts_panel_is_bounded(big_run, django_assert_max_num_queries):
    template = Template("{% load artifact_tags %}{% artifacts_panel owner %}")
    with django_assert_max_num_queries(3):
        html = template.render(Context({"owner": big_run}))
    assert html.count("/thumbnail/") == 24
    assert "More plots in the" in html
    assert "10,043 files" in html
