"""The home page's "what changed since your last visit": per reader, never from the page
cache that every reader shares."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from catalog.models import ChangeEvent, ReaderVisit
from catalog.selectors.changes import VISIT_GAP
from tests.factories import make_change_event, make_sync_run

Kind = ChangeEvent.Kind


@pytest.fixture(autouse=True)
def page_cache_on(settings):
    settings.CATALOG_PAGE_CACHE_SECONDS = 300


def _reader(username: str) -> tuple[Client, object]:
    user = get_user_model().objects.create_user(username, password="pass-1234567")
    client = Client()
    client.force_login(user)
    return client, user


def _events_at(world, *, hours_ago: float, kinds: dict[str, int]) -> list[ChangeEvent]:
    """Events of one sync ``hours_ago``: ``kinds`` maps a kind to how many."""
    started = timezone.now() - timedelta(hours=hours_ago)
    sync = make_sync_run(started_at=started, finished_at=started + timedelta(seconds=5))
    run = world["runs"]["randomforest_baseline"]
    return [
        make_change_event(entity=run, sync_run=sync, kind=kind)
        for kind, count in kinds.items()
        for _ in range(count)
    ]


@pytest.fixture
def timeline(seed_world):
    """Events 3 days, 5 h and 1 h ago, written oldest first as the syncs write them."""
    _events_at(seed_world, hours_ago=72, kinds={Kind.CREATED: 4})
    _events_at(seed_world, hours_ago=5, kinds={Kind.UPDATED: 1, Kind.ALIAS_MOVED: 1})
    _events_at(seed_world, hours_ago=1, kinds={Kind.UPDATED: 2, Kind.MISSING: 1})
    return seed_world


def _block(html: str) -> str:
    return html.split('<section class="changes-since"', 1)[1].split("</section>", 1)[0]


def _counts(html: str) -> dict[str, int]:
    block = _block(html)
    found = re.findall(
        r'class="kind-count kind-(\w+)" href="[^"]+"><span class="kind-count-value">'
        r"(\d+)</span>",
        block,
    )
    return {kind: int(count) for kind, count in found}


def _kind_link(html: str, kind: str) -> str:
    match = re.search(rf'class="kind-count kind-{kind}" href="([^"]+)"', _block(html))
    return match.group(1).replace("&amp;", "&")


def _home(client):
    response = client.get(reverse("catalog:home"))
    assert response.status_code == 200
    return response


def test_a_first_visit_shows_the_last_24_hours_per_kind(timeline):
    client, user = _reader("ann")
    html = _home(client).content.decode()
    assert "Changed in the last 24 hours" in _block(html)
    assert _counts(html) == {"updated": 3, "alias_moved": 1, "missing": 1}
    assert ReaderVisit.objects.get(user=user).previous_visit_at is None


def test_each_count_links_the_timeline_of_exactly_those_events(timeline):
    client, _ = _reader("ann")
    html = _home(client).content.decode()
    link = _kind_link(html, "updated")
    assert link.startswith(reverse("catalog:changes") + "?since=")
    page = client.get(link).content.decode()
    assert "ignored" not in page
    assert len(re.findall(r'data-event="\d+"', page)) == 3
    assert "kind-updated" in page and "kind-missing" not in page


def test_a_later_visit_counts_since_the_previous_one(timeline):
    client, user = _reader("ann")
    _home(client)
    # The reader left three hours ago: the 5-hour-old sync is from before that visit.
    ReaderVisit.objects.filter(user=user).update(last_visit_at=timezone.now() - timedelta(hours=3))
    html = _home(client).content.decode()
    assert "Changed since your last visit" in _block(html)
    assert _counts(html) == {"updated": 2, "missing": 1}
    visit = ReaderVisit.objects.get(user=user)
    assert timezone.now() - visit.previous_visit_at > timedelta(hours=2)
    # Within the same visit (views less than VISIT_GAP apart) the counts stay.
    assert _counts(_home(client).content.decode()) == {"updated": 2, "missing": 1}
    assert timezone.now() - visit.last_visit_at < VISIT_GAP


def test_nothing_new_says_so(seed_world):
    client, _ = _reader("ann")
    html = _home(client).content.decode()
    assert "Nothing changed." in _block(html)


def test_one_readers_block_never_reaches_another(timeline):
    ann, ann_user = _reader("ann")
    bob, bob_user = _reader("bob")
    now = timezone.now()
    # Ann last came 2 hours ago, Bob 6 hours ago: Bob has one more sync to see.
    ReaderVisit.objects.create(
        user=ann_user, previous_visit_at=None, last_visit_at=now - timedelta(hours=2)
    )
    ReaderVisit.objects.create(
        user=bob_user, previous_visit_at=None, last_visit_at=now - timedelta(hours=6)
    )
    ann_page = _home(ann)
    bob_page = _home(bob)
    assert (ann_page["X-Page-Cache"], bob_page["X-Page-Cache"]) == ("miss", "hit")
    ann_html, bob_html = ann_page.content.decode(), bob_page.content.decode()
    assert _counts(ann_html) == {"updated": 2, "missing": 1}
    assert _counts(bob_html) == {"updated": 3, "alias_moved": 1, "missing": 1}
    assert _block(ann_html) != _block(bob_html)
    # The rest of the page is the one cached body.
    assert ann_html.replace(_block(ann_html), "").count("Quick reference") == 1
    # And the stored body holds no block at all, only its marker.
    second_ann = _home(ann)
    assert second_ann["X-Page-Cache"] == "hit"
    assert _counts(second_ann.content.decode()) == {"updated": 2, "missing": 1}


def test_a_cache_hit_of_the_home_page_stays_cheap(timeline, django_assert_max_num_queries):
    client, _ = _reader("ann")
    _home(client)
    # Session, user, data version; the visit's read and the counts; no write mid-visit.
    with django_assert_max_num_queries(5):
        assert _home(client)["X-Page-Cache"] == "hit"
