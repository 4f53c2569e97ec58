"""``/monitoring/metrics``: the last sync's figures for Prometheus, behind a token or a login."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from catalog.models import SyncRun

pytestmark = pytest.mark.django_db

URL = "/monitoring/metrics"
TOKEN = "s3cret-scrape-token"


def samples(response) -> dict[tuple[str, tuple], float]:
    text = response.content.decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def finished_sync():
    now = timezone.now()
    return SyncRun.objects.create(
        started_at=now - timedelta(minutes=12),
        finished_at=now - timedelta(minutes=10),
        status=SyncRun.Status.PARTIAL,
        counts={
            "runs": {"created": 3, "updated": 1, "unchanged": 14, "missing": 1, "restored": 0},
            "artifacts": {"created": 120, "updated": 0, "unchanged": 0, "missing": 2},
            "odd": "not a dict",
        },
        orphans=4,
        warnings=["s3://b/1/MLmodel: bad YAML", "... and 7 more warnings"],
        duration_s=118.5,
    )


@override_settings(CATALOG_METRICS_TOKEN=TOKEN)
def test_a_scraper_with_the_token_reads_the_last_sync(client, finished_sync):
    response = client.get(URL, headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    figures = samples(response)
    assert figures[("catalog_last_sync_healthy", ())] == 0
    assert figures[("catalog_last_sync_status", (("status", "partial"),))] == 1
    assert figures[("catalog_last_sync_status", (("status", "ok"),))] == 0
    assert figures[("catalog_last_sync_duration_seconds", ())] == 118.5
    assert figures[("catalog_last_sync_warnings", ())] == 8
    assert figures[("catalog_last_sync_orphan_objects", ())] == 4
    assert 599 <= figures[("catalog_last_sync_age_seconds", ())] <= 660
    assert figures[("catalog_last_sync_items", (("entity", "runs"), ("outcome", "created")))] == 3
    assert (
        figures[("catalog_last_sync_items", (("entity", "artifacts"), ("outcome", "missing")))] == 2
    )
    assert figures[("catalog_sync_running", ())] == 0


@override_settings(CATALOG_METRICS_TOKEN=TOKEN)
@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer", "Bearer çà"]
)
def test_without_the_right_token_a_scraper_gets_401(client, finished_sync, authorization):
    headers = {"Authorization": authorization} if authorization else {}

    response = client.get(URL, headers=headers)

    assert response.status_code == 401
    assert b"catalog_last_sync" not in response.content


def test_without_a_token_configured_the_page_needs_a_login(
    client, finished_sync, django_user_model
):
    assert client.get(URL).status_code == 302

    client.force_login(django_user_model.objects.create_user("reader"))
    response = client.get(URL)

    assert response.status_code == 200
    assert samples(response)[("catalog_last_sync_orphan_objects", ())] == 4


def test_before_any_sync_only_the_running_gauge_is_there(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("reader"))
    SyncRun.objects.create(started_at=timezone.now(), status=SyncRun.Status.RUNNING)

    figures = samples(client.get(URL))

    assert figures == {("catalog_sync_running", ()): 1}
