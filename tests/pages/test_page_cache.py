"""The rendered-page cache (catalog.pagecache): hits, the data version, the per-user hole."""

from __future__ import annotations

import pickle
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse

from catalog import pagecache, selectors
from catalog.models import Experiment, SyncRun
from tests.factories import NOW, make_sync_run

# A hit reads the session, the user and the data version; nothing else.
HIT_QUERIES = 3
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture(autouse=True)
def page_cache_on(settings):
    settings.CATALOG_PAGE_CACHE_SECONDS = 300


def _client_for(username: str, *, staff: bool = False, **client_options) -> Client:
    user = get_user_model().objects.create_user(username, password="pass-1234567", is_staff=staff)
    client = Client(**client_options)
    client.force_login(user)
    return client


@pytest.fixture
def alice(db):
    return _client_for("alice")


@pytest.fixture
def bob(db):
    return _client_for("bob", enforce_csrf_checks=True)


def cached_urls(world) -> list[str]:
    """Every page type that goes through the page cache, on the seed world."""
    run = world["runs"]["randomforest_baseline"]
    return [
        reverse("catalog:home"),
        reverse("catalog:experiment_list"),
        reverse("catalog:experiment_detail", args=["4"]),
        reverse("catalog:run_detail", args=[run.run_id]),
        reverse("catalog:model_list") + "?sort=-name",
        reverse("catalog:model_detail", args=["ai4i_classifier_randomforest_baseline"]),
        reverse("catalog:model_version_detail", args=["ai4i_classifier_randomforest_baseline", 1]),
        reverse("catalog:category_list"),
        reverse("catalog:metrics") + "?metric=accuracy&threshold=0.9",
        reverse("catalog:audit") + "?section=orphans",
        reverse("catalog:search") + "?q=ai4i",
        reverse("catalog:changes") + "?kind=updated",
        reverse("catalog:run_artifacts", args=[run.run_id]),
        reverse("catalog:run_artifact", args=[run.run_id, "plots/"]),
        reverse("catalog:run_artifact", args=[run.run_id, "plots/confusion.png"]),
        reverse("catalog:mapping_export"),
    ]


def _html(response) -> str:
    return response.content.decode()


def _without_csrf(html: str) -> str:
    return CSRF_INPUT.sub("", html)


def _experiment_4(client) -> str:
    return _html(client.get(reverse("catalog:experiment_detail", args=["4"])))


# --- hits -----------------------------------------------------------------------------


def test_a_hit_runs_no_view_code_and_no_view_query(
    seed_world, reader_client, django_assert_num_queries, monkeypatch
):
    from catalog.views.experiments import ExperimentDetailView

    url = reverse("catalog:experiment_detail", args=["4"])
    miss = reader_client.get(url)
    assert miss["X-Page-Cache"] == "miss"

    def view_ran(*args, **kwargs):
        raise AssertionError("the view ran on a hit")

    monkeypatch.setattr(ExperimentDetailView, "get_context_data", view_ran)
    with django_assert_num_queries(HIT_QUERIES):
        hit = reader_client.get(url)
    assert hit.status_code == 200
    assert hit["X-Page-Cache"] == "hit"
    assert hit["Content-Type"] == miss["Content-Type"]
    assert _without_csrf(_html(hit)) == _without_csrf(_html(miss))
    assert "Log out reader" in _html(hit)


@pytest.mark.parametrize("index", range(16))
def test_every_cached_page_is_a_hit_the_second_time(seed_world, reader_client, index):
    url = cached_urls(seed_world)[index]
    first = reader_client.get(url)
    second = reader_client.get(url)
    assert (first.status_code, second.status_code) == (200, 200), url
    assert (first["X-Page-Cache"], second["X-Page-Cache"]) == ("miss", "hit"), url
    assert pagecache.HOLE_MARKER not in _html(first) + _html(second), url


def test_the_mapping_export_keeps_its_headers_and_text_on_a_hit(seed_world, reader_client):
    url = reverse("catalog:mapping_export")
    first, second = reader_client.get(url), reader_client.get(url)
    assert second["X-Page-Cache"] == "hit"
    assert second.content == first.content
    for header in ("Content-Type", "Content-Disposition"):
        assert second[header] == first[header]


# --- the data version -----------------------------------------------------------------


def test_a_new_finished_sync_changes_the_page(seed_world, reader_client):
    assert "Classification Gauntlet (AI4I)" in _experiment_4(reader_client)
    # The sync's writes alone do not show while the version is unchanged...
    Experiment.objects.filter(experiment_id="4").update(name="AI4I renamed by a sync")
    assert "AI4I renamed by a sync" not in _experiment_4(reader_client)
    # ...its SyncRun row does.
    make_sync_run(started_at=NOW + timedelta(hours=1), finished_at=NOW + timedelta(hours=1.1))
    assert "AI4I renamed by a sync" in _experiment_4(reader_client)


def test_a_sync_finishing_changes_the_page(seed_world, reader_client):
    running = make_sync_run(
        started_at=NOW + timedelta(hours=1), finished_at=None, status=SyncRun.Status.RUNNING
    )
    assert "Classification Gauntlet (AI4I)" in _experiment_4(reader_client)
    Experiment.objects.filter(experiment_id="4").update(name="AI4I, batch committed")
    assert "AI4I, batch committed" not in _experiment_4(reader_client)
    SyncRun.objects.filter(pk=running.pk).update(
        status=SyncRun.Status.OK, finished_at=NOW + timedelta(hours=1.1)
    )
    assert "AI4I, batch committed" in _experiment_4(reader_client)


def _admin_form_data(client, url: str) -> dict:
    form = client.get(url).context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        data[name] = "" if value is None else value
    return data


def test_an_admin_edit_shows_at_once(seed_world, reader_client):
    lead = Client()
    lead.force_login(get_user_model().objects.create_superuser("boss", password="x-12345678"))
    experiment = seed_world["experiments"]["4"]
    assert "Machine failure prediction" in _experiment_4(reader_client)
    # An edit outside the admin writes no LogEntry: it waits for the version or the TTL.
    Experiment.objects.filter(pk=experiment.pk).update(description="Edited in a shell")
    assert "Edited in a shell" not in _experiment_4(reader_client)

    url = reverse("admin:catalog_experiment_change", args=[experiment.pk])
    data = _admin_form_data(lead, url)
    data["description"] = "Curated: failure prediction on **AI4I**"
    assert lead.post(url, data).status_code == 302

    html = _experiment_4(reader_client)
    assert "Curated: failure prediction on <strong>AI4I</strong>" in html


def test_the_version_is_one_query_and_changes_with_syncs_and_edits(
    seed_world, django_assert_num_queries
):
    from django.contrib.admin.models import CHANGE, LogEntry
    from django.contrib.contenttypes.models import ContentType

    with django_assert_num_queries(1):
        first = selectors.data_version()
    assert first.last_sync == selectors.last_sync()

    running = make_sync_run(started_at=NOW + timedelta(hours=1), finished_at=None, status="running")
    second = selectors.data_version()
    assert second.token != first.token
    assert second.last_sync == seed_world["sync"]  # the header shows the last finished one

    SyncRun.objects.filter(pk=running.pk).update(status="ok", finished_at=NOW + timedelta(hours=2))
    third = selectors.data_version()
    assert third.token != second.token
    assert third.last_sync.pk == running.pk

    LogEntry.objects.create(
        user=get_user_model().objects.create_user("editor"),
        content_type=ContentType.objects.get_for_model(Experiment),
        object_id="1",
        object_repr="1",
        action_flag=CHANGE,
    )
    assert selectors.data_version().token != third.token


def test_the_version_without_any_sync(db, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        version = selectors.data_version()
    assert version.last_sync is None


# --- the per-user hole ----------------------------------------------------------------


@pytest.mark.parametrize("index", range(15))  # the HTML pages of cached_urls
def test_one_users_name_and_csrf_token_never_reach_another(seed_world, alice, bob, index):
    url = cached_urls(seed_world)[index]
    alice_page = alice.get(url)
    bob_page = bob.get(url)
    assert bob_page["X-Page-Cache"] == "hit", url
    alice_html, bob_html = _html(alice_page), _html(bob_page)
    assert "Log out alice" in alice_html and "Log out bob" in bob_html, url
    assert "alice" not in bob_html, url
    alice_token = CSRF_INPUT.search(alice_html).group(1)
    bob_token = CSRF_INPUT.search(bob_html).group(1)
    assert alice_token not in bob_html, url
    # Bob's token is his own: the logout form works under enforced CSRF checks.
    logout = bob.post(reverse("logout"), {"csrfmiddlewaretoken": bob_token})
    assert logout.status_code == 302, url


def test_the_cached_body_holds_no_user_content(seed_world, alice):
    alice.get(reverse("catalog:home"))
    cache = caches[pagecache.CACHE_ALIAS]
    bodies = [pickle.loads(value)[0] for value in cache._cache.values()]
    assert len(bodies) == 1
    body = bodies[0].decode()
    assert pagecache.HOLE_MARKER in body
    # The home page's "changed since your last visit" is a hole of its own.
    assert pagecache.hole_marker("changes_since_visit") in body
    assert "changes-since" not in body
    assert "alice" not in body
    assert "csrfmiddlewaretoken" not in body
    assert "Synced " not in body


def test_staff_and_readers_never_share_a_page(seed_world, reader_client):
    staff = _client_for("lead", staff=True)
    assert 'href="/admin/"' not in _html(reader_client.get("/"))
    staff_page = staff.get("/")
    assert staff_page["X-Page-Cache"] == "miss"
    assert 'href="/admin/"' in _html(staff_page)
    again = reader_client.get("/")
    assert again["X-Page-Cache"] == "hit"
    assert 'href="/admin/"' not in _html(again)


def test_a_hit_has_the_sync_line(seed_world, reader_client):
    reader_client.get("/")
    hit = reader_client.get("/")
    assert hit["X-Page-Cache"] == "hit"
    assert re.search(r"Synced \S.* ago", _html(hit))


# --- what is not cached ---------------------------------------------------------------


def test_query_string_variants_are_separate_pages(seed_world, reader_client):
    base = reverse("catalog:model_list")
    by_name = reader_client.get(base + "?sort=name")
    by_name_desc = reader_client.get(base + "?sort=-name")
    assert (by_name["X-Page-Cache"], by_name_desc["X-Page-Cache"]) == ("miss", "miss")
    names = [row.record.name for row in by_name.context["table"].rows]
    names_desc = [row.record.name for row in by_name_desc.context["table"].rows]
    assert names_desc == list(reversed(names))
    filtered = reader_client.get(base + "?category=forecasting")
    assert filtered["X-Page-Cache"] == "miss"
    assert "ai4i_classifier" not in _html(filtered)


def test_errors_redirects_and_exports_are_not_cached(seed_world, reader_client, client):
    for _ in range(2):
        missing = reader_client.get(reverse("catalog:experiment_detail", args=["404404"]))
        assert missing.status_code == 404
        assert "X-Page-Cache" not in missing
    for _ in range(2):
        export = reader_client.get(reverse("catalog:model_list") + "?_export=csv")
        assert export.streaming
        assert "X-Page-Cache" not in export
        b"".join(export.streaming_content)
    assert "X-Page-Cache" not in reader_client.get("/healthz")
    assert "X-Page-Cache" not in reader_client.get(
        reverse("catalog:chart_leaderboard") + "?metric=accuracy"
    )
    client.logout()
    for _ in range(2):
        anonymous = client.get(reverse("catalog:home"))
        assert anonymous.status_code == 302
        assert "X-Page-Cache" not in anonymous
    assert caches[pagecache.CACHE_ALIAS]._cache == {}


@pytest.mark.parametrize(
    "answer",
    [
        lambda: HttpResponse("redirect", status=302, headers={"Location": "/"}),
        lambda: HttpResponse("not found", status=404),
        lambda: HttpResponse("no-store", headers={"Cache-Control": "no-store"}),
        lambda: _with_cookie(HttpResponse("a cookie")),
    ],
)
def test_responses_that_must_not_be_kept_are_not(db, answer):
    calls = []

    @pagecache.cached_page
    def view(request):
        calls.append(request)
        return answer()

    user = get_user_model().objects.create_user("someone")
    for _ in range(2):
        request = RequestFactory().get("/somewhere/")
        request.user = user
        assert "X-Page-Cache" not in view(request)
    assert len(calls) == 2


def _with_cookie(response):
    response.set_cookie("flavour", "oat")
    return response


def test_post_is_never_served_from_the_cache(db):
    calls = []

    @pagecache.cached_page
    def view(request):
        calls.append(request.method)
        return HttpResponse("ok")

    user = get_user_model().objects.create_user("someone")
    for method in ("get", "post", "get"):
        request = getattr(RequestFactory(), method)("/somewhere/")
        request.user = user
        view(request)
    assert calls == ["GET", "POST"]


def test_ttl_zero_turns_the_cache_off(seed_world, reader_client, settings, monkeypatch):
    settings.CATALOG_PAGE_CACHE_SECONDS = 0
    from catalog.views.experiments import ExperimentDetailView

    calls = []
    original = ExperimentDetailView.get_context_data

    def counted(self, **kwargs):
        calls.append(1)
        return original(self, **kwargs)

    monkeypatch.setattr(ExperimentDetailView, "get_context_data", counted)
    for _ in range(2):
        response = reader_client.get(reverse("catalog:experiment_detail", args=["4"]))
        assert "X-Page-Cache" not in response
        assert "Log out reader" in _html(response)
        assert pagecache.HOLE_MARKER not in _html(response)
    assert len(calls) == 2
    assert caches[pagecache.CACHE_ALIAS]._cache == {}
