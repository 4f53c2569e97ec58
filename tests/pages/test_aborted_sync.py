"""How pages and ``/healthz`` show a last sync that was aborted (its process died)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse

from catalog.models import SyncRun
from catalog.sync.service import ABANDONED_ERROR
from tests.factories import NOW, make_sync_run

pytestmark = pytest.mark.django_db


def aborted_sync() -> SyncRun:
    make_sync_run(started_at=NOW - timedelta(days=1))
    return make_sync_run(
        started_at=NOW,
        finished_at=NOW + timedelta(hours=3),
        status=SyncRun.Status.ABORTED,
        error=ABANDONED_ERROR,
        duration_s=None,
    )


@pytest.mark.parametrize(
    ("status", "healthy"),
    [
        (SyncRun.Status.OK, True),
        (SyncRun.Status.PARTIAL, False),
        (SyncRun.Status.FAILED, False),
        (SyncRun.Status.ABORTED, False),
    ],
)
def test_healthz_says_whether_the_last_sync_succeeded(client, status, healthy):
    make_sync_run(status=status)
    response = client.get("/healthz")
    assert response.status_code == 200  # the site serves; only the sync is unhealthy
    last_sync = json.loads(response.content)["last_sync"]
    assert (last_sync["status"], last_sync["healthy"]) == (status, healthy)


def test_healthz_reports_an_aborted_sync_over_the_ok_one_before_it(client):
    aborted_sync()
    last_sync = json.loads(client.get("/healthz").content)["last_sync"]
    assert last_sync["status"] == "aborted"
    assert last_sync["healthy"] is False


def test_every_page_header_says_the_last_sync_aborted(reader_client):
    aborted_sync()
    body = reader_client.get(reverse("catalog:home")).content.decode()
    header = re.sub(r"\s+", " ", body)
    assert 'Last sync <span class="badge badge-aborted">aborted</span> (started' in header
    assert "Synced " not in header


def test_the_header_of_an_ok_sync_is_unchanged(reader_client):
    make_sync_run()
    body = reader_client.get(reverse("catalog:home")).content.decode()
    assert re.search(r"Synced \S.* ago", body)
    assert "badge-aborted" not in body


def test_the_admin_lists_and_filters_aborted_syncs(staff_client):
    aborted = aborted_sync()
    listing = staff_client.get(reverse("admin:catalog_syncrun_changelist"))
    assert '<span class="sync-aborted">Aborted</span>' in listing.content.decode()
    filtered = staff_client.get(
        reverse("admin:catalog_syncrun_changelist"), {"status__exact": "aborted"}
    )
    assert filtered.context["cl"].result_count == 1
    index = staff_client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:catalog_syncrun_change", args=[aborted.pk]) in index
    assert ABANDONED_ERROR in index
    assert "found stopped by the next sync" in index
    assert " s, " not in index  # no duration: it never finished
