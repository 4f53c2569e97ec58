"""Atom feeds of the change timeline: keys, filters, bounds, and the reader's feed page."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from catalog.feed_tokens import LAST_USED_RESOLUTION
from catalog.model_urls import model_version_url
from catalog.models import FeedToken
from catalog.views.feeds import FEED_MAX_ENTRIES
from tests.change_events import Entity, Kind, make_change_event
from tests.factories import make_experiment, make_registered_model, make_sync_run

pytestmark = pytest.mark.django_db

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def token(user) -> FeedToken:
    return FeedToken.objects.create(user=user)


def feed_url(token: FeedToken, query: str = "") -> str:
    return reverse("catalog:change_feed", args=[token.key]) + (f"?{query}" if query else "")


def atom_entries(response) -> list[ET.Element]:
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)
    assert root.tag == f"{ATOM}feed"
    return root.findall(f"{ATOM}entry")


def entry_titles(response) -> list[str]:
    return [entry.findtext(f"{ATOM}title") for entry in atom_entries(response)]


def test_the_feed_is_atom_with_one_entry_per_event_linking_its_page(client, token):
    sync_run = make_sync_run()
    run_event = make_change_event(sync_run=sync_run, summary="Run nightly-run: rmse 0.41 -> 0.38")
    model = make_registered_model(name="pump/forecaster")
    version_event = make_change_event(
        sync_run=sync_run,
        entity_type=Entity.MODEL_VERSION,
        kind=Kind.ALIAS_MOVED,
        entity_key="pump/forecaster/v4",
        entity_name="pump/forecaster v4",
        registered_model=model,
        changes={"@production": [3, 4]},
        summary="pump/forecaster: @production v3 -> v4",
    )
    catalogue_event = make_change_event(
        sync_run=sync_run,
        entity_type=Entity.CATALOGUE,
        kind=Kind.INITIAL_IMPORT,
        entity_key="catalogue",
        changes={"runs": 18},
        summary="Initial import: 7 experiments, 18 runs",
    )

    response = client.get(feed_url(token))  # a feed reader: no session

    entries = atom_entries(response)
    by_title = {entry.findtext(f"{ATOM}title"): entry for entry in entries}
    assert list(by_title) == [
        catalogue_event.summary,
        version_event.summary,
        run_event.summary,
    ]  # newest first
    links = {
        title: urlsplit(entry.find(f"{ATOM}link").get("href")) for title, entry in by_title.items()
    }
    assert links[run_event.summary].path == f"/runs/{run_event.entity_key}/"
    assert links[run_event.summary].netloc == "testserver"
    assert links[version_event.summary].path == model_version_url("pump/forecaster", 4)
    assert "sync" in links[catalogue_event.summary].query
    ids = [entry.findtext(f"{ATOM}id") for entry in entries]
    assert len(set(ids)) == 3
    expected = [catalogue_event, version_event, run_event]
    assert [entry_id.rsplit("/", 1)[1] for entry_id in ids] == [str(e.pk) for e in expected]
    assert all(entry.findtext(f"{ATOM}updated") for entry in entries)
    summary = by_title[version_event.summary].findtext(f"{ATOM}summary")
    assert "@production: 3 -&gt; 4" in summary


def test_no_key_a_wrong_key_or_a_malformed_key_is_a_404(client, token):
    make_change_event()
    assert client.get("/changes/feed/").status_code == 404
    wrong = "A" * len(token.key)
    assert client.get(reverse("catalog:change_feed", args=[wrong])).status_code == 404
    assert client.get(reverse("catalog:change_feed", args=["x"])).status_code == 404
    assert client.get(f"/changes/feed/{token.key[:-1]}%00/").status_code == 404
    assert client.get(feed_url(token)).status_code == 200


def test_an_inactive_users_key_opens_nothing(client, token, user):
    make_change_event()
    user.is_active = False
    user.save()
    assert client.get(feed_url(token)).status_code == 404


def test_revoking_a_key_in_the_admin_makes_its_feed_a_404(client, token, staff_user):
    make_change_event()
    assert client.get(feed_url(token)).status_code == 200
    client.force_login(staff_user)
    response = client.post(
        reverse("admin:catalog_feedtoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert response.status_code == 302
    assert not FeedToken.objects.filter(pk=token.pk).exists()
    client.logout()
    assert client.get(feed_url(token)).status_code == 404


def test_the_admin_lists_keys_without_showing_them(staff_client, token):
    response = staff_client.get(reverse("admin:catalog_feedtoken_changelist"))
    assert response.status_code == 200
    assert token.user.username in response.content.decode()
    assert token.key not in response.content.decode()


def test_the_timeline_filters_apply(client, token):
    old_sync = make_sync_run(started_at=timezone.now() - timedelta(days=10))
    new_sync = make_sync_run(started_at=timezone.now())
    experiment = make_experiment(experiment_id="7")
    model = make_registered_model(name="bearing-rul")
    make_change_event(sync_run=old_sync, summary="old run change", experiment=experiment)
    make_change_event(
        sync_run=new_sync,
        entity_type=Entity.MODEL_VERSION,
        kind=Kind.ALIAS_MOVED,
        entity_key="bearing-rul/v2",
        registered_model=model,
        summary="bearing-rul: @production v1 -> v2",
    )
    make_change_event(
        sync_run=new_sync,
        entity_type=Entity.REGISTERED_MODEL,
        kind=Kind.CREATED,
        entity_key="other",
        summary="other model created",
    )
    day = timezone.localdate()

    assert entry_titles(client.get(feed_url(token, "kind=alias_moved&model=bearing-rul"))) == [
        "bearing-rul: @production v1 -> v2"
    ]
    assert entry_titles(client.get(feed_url(token, "entity=registered_model"))) == [
        "other model created"
    ]
    assert entry_titles(client.get(feed_url(token, "experiment=7"))) == ["old run change"]
    assert entry_titles(client.get(feed_url(token, f"sync={old_sync.pk}"))) == ["old run change"]
    assert len(entry_titles(client.get(feed_url(token, f"since={day}")))) == 2
    until = day - timedelta(days=5)
    assert entry_titles(client.get(feed_url(token, f"until={until}"))) == ["old run change"]
    title = ET.fromstring(client.get(feed_url(token, "kind=alias_moved")).content).findtext(
        f"{ATOM}title"
    )
    assert "alias_moved" in title


@pytest.mark.parametrize(
    ("query", "matches"),
    [
        ("kind=nonsense", True),
        ("entity=%3Cscript%3E", True),
        ("since=yesterday&until=2026-13-45", True),
        ("sync=-1", True),
        ("model=" + "%00" * 300, True),  # NUL dropped: an empty filter
        ("sync=99999999999999999999999", True),  # beyond any id
        ("sync=1.5", True),
        ("kind=created&kind=updated&page=-3", True),  # the last "kind" counts
        # Valid values that match nothing: no error either.
        (f"sync={2**63 - 1}", False),
        ("experiment=" + "x" * 5000, False),
    ],
)
def test_bad_filter_values_are_ignored_never_a_500(client, token, query, matches):
    make_change_event(summary="a run changed")
    response = client.get(feed_url(token, query))
    assert entry_titles(response) == (["a run changed"] if matches else [])


def test_a_bad_value_beside_a_good_one_keeps_the_good_one(client, token):
    make_change_event(kind=Kind.CREATED, summary="created")
    make_change_event(kind=Kind.MISSING, summary="gone")
    assert entry_titles(client.get(feed_url(token, "kind=missing&since=notadate"))) == ["gone"]


def test_the_feed_holds_the_newest_events_only(client, token):
    sync_run = make_sync_run()
    for index in range(FEED_MAX_ENTRIES + 5):
        make_change_event(sync_run=sync_run, summary=f"change {index}")
    titles = entry_titles(client.get(feed_url(token)))
    assert len(titles) == FEED_MAX_ENTRIES
    assert titles[0] == f"change {FEED_MAX_ENTRIES + 4}"


def test_hostile_text_stays_valid_escaped_xml(client, token):
    make_change_event(
        entity_name="evil\x01\x0bname",
        summary="<script>alert(1)</script>\x07\x08 done",  # no NUL: no database keeps it
        changes={"tags.note": ["\x1b[31m", "<img src=x onerror=alert(1)>"]},
    )
    entries = atom_entries(client.get(feed_url(token)))
    assert entries[0].findtext(f"{ATOM}title") == "<script>alert(1)</script> done"
    summary = entries[0].findtext(f"{ATOM}summary")
    # The summary is HTML to a feed reader: the source's markup arrives as text.
    assert "<script>" not in summary and "&lt;script&gt;" in summary
    assert "<img" not in summary and "&lt;img" in summary


def test_the_feed_is_read_afresh_not_from_the_page_cache(client, token):
    first = make_change_event(summary="first")
    assert entry_titles(client.get(feed_url(token))) == ["first"]
    # A new event with no new sync or admin edit: the data version is unchanged.
    make_change_event(sync_run=first.sync_run, summary="second")
    response = client.get(feed_url(token))
    assert entry_titles(response) == ["second", "first"]
    assert "private" in response["Cache-Control"]


def test_the_feed_runs_few_queries(client, token, django_assert_max_num_queries):
    for _ in range(10):
        make_change_event(registered_model=make_registered_model())
    with django_assert_max_num_queries(4):
        assert len(entry_titles(client.get(feed_url(token, "model=x&experiment=1")))) == 0
    with django_assert_max_num_queries(4):
        assert len(entry_titles(client.get(feed_url(token)))) == 10


def test_last_used_is_written_at_most_once_an_hour(client, token):
    client.get(feed_url(token))
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    client.get(feed_url(token))
    token.refresh_from_db()
    assert token.last_used_at == first
    FeedToken.objects.filter(pk=token.pk).update(
        last_used_at=first - LAST_USED_RESOLUTION - timedelta(minutes=1)
    )
    client.get(feed_url(token))
    token.refresh_from_db()
    assert token.last_used_at > first - timedelta(seconds=1)


def test_the_feed_page_makes_shows_and_replaces_the_key(reader_client, user):
    page = reverse("catalog:feed_account")
    response = reader_client.get(page)
    assert response.status_code == 200
    assert "no feed URL yet" in response.content.decode()
    assert "private" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]

    assert reader_client.post(page).status_code == 302
    first = FeedToken.objects.get(user=user)
    shown = reader_client.get(page).content.decode()
    assert f"http://testserver{feed_url(first)}" in shown

    assert reader_client.post(page).status_code == 302
    second = FeedToken.objects.get(user=user)
    assert second.key != first.key
    assert "no longer works" in reader_client.get(page).content.decode()
    assert reader_client.get(feed_url(first)).status_code == 404
    assert reader_client.get(feed_url(second)).status_code == 200


def test_the_feed_page_gives_the_url_with_valid_filters_only(reader_client, token):
    response = reader_client.get(
        reverse("catalog:feed_account") + "?kind=alias_moved&model=pump&since=notadate"
    )
    shown = response.content.decode()
    assert f"{feed_url(token)}?kind=alias_moved&amp;model=pump" in shown
    assert "notadate" not in shown.split('id="feed-url"')[1].split("</code>")[0]


def test_the_feed_page_needs_a_login_and_a_csrf_token(client, user):
    page = reverse("catalog:feed_account")
    assert client.get(page).status_code == 302
    csrf_client = type(client)(enforce_csrf_checks=True)
    csrf_client.force_login(user)
    assert csrf_client.post(page).status_code == 403
    assert not FeedToken.objects.filter(user=user).exists()


def test_the_timeline_links_the_feed_page(reader_client):
    response = reader_client.get(reverse("catalog:changes"))
    assert reverse("catalog:feed_account") in response.content.decode()


def test_another_readers_key_is_not_shown(reader_client, token):
    other = get_user_model().objects.create_user("other", password="other-pass-123")
    theirs = FeedToken.objects.create(user=other)
    shown = reader_client.get(reverse("catalog:feed_account")).content.decode()
    assert token.key in shown and theirs.key not in shown
